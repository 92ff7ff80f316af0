/**
 * What the gateway's code uses to trace: only `@opentelemetry/api`. Until a process starts the
 * SDK (./sdk.ts, when an OTLP endpoint is configured) every call here goes to the API's no-op
 * tracer and no-op propagator: spans record nothing and carriers stay empty. An application that
 * embeds the gateway as a library and registers an SDK of its own gets these spans in its traces.
 *
 * Names follow the OpenTelemetry GenAI semantic conventions (`invoke_agent <agent>`,
 * `execute_tool <tool>`, `chat <model>`, `gen_ai.*` attributes); what is the gateway's own is
 * under `agent_gateway.*`.
 */
import { ROOT_CONTEXT, SpanStatusCode, context, propagation, trace, type Context, type Span } from '@opentelemetry/api';

export const tracer = trace.getTracer('agent-gateway');

/** Attribute names: the GenAI conventions' where they have one, the gateway's own otherwise. */
export const ATTR = {
  operation: 'gen_ai.operation.name',
  conversationId: 'gen_ai.conversation.id',
  agentId: 'gen_ai.agent.id',
  agentName: 'gen_ai.agent.name',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  finishReasons: 'gen_ai.response.finish_reasons',
  errorType: 'error.type',
  runId: 'agent_gateway.run.id',
  runStatus: 'agent_gateway.run.status',
  runResumed: 'agent_gateway.run.resumed',
  firstSeq: 'agent_gateway.seq.first',
  lastSeq: 'agent_gateway.seq.last',
} as const;

/** A W3C trace context as text: `traceparent` and, when there is one, `tracestate`. */
export type TraceCarrier = Record<string, string>;

/**
 * The active trace context as a carrier to store or send on; undefined when there is none to
 * carry (tracing off, or nothing active), so that nothing is stored or sent then.
 */
export function activeCarrier(): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'] === undefined ? undefined : carrier;
}

/** Headers that carry the active trace context to a remote service (none when tracing is off). */
export function traceHeaders(): TraceCarrier {
  return activeCarrier() ?? {};
}

/** The context a carrier (stored with a run, or from a client's headers) continues; the root one without. */
export function contextOf(carrier: Readonly<Record<string, unknown>> | undefined): Context {
  if (!carrier) return ROOT_CONTEXT;
  const text: TraceCarrier = {};
  for (const key of ['traceparent', 'tracestate']) {
    const value = carrier[key];
    if (typeof value === 'string') text[key] = value;
  }
  return text['traceparent'] === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, text);
}

/** Attributes on the active span (a send's, say: which conversation and run it is about). */
export function annotateActiveSpan(attributes: Record<string, string | number | boolean>): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** An event on the active span (a run's pause, say). */
export function addSpanEvent(name: string, attributes: Record<string, string | number | boolean>): void {
  trace.getActiveSpan()?.addEvent(name, attributes);
}

/** Marks a span as failed with `error` (its code, when it has one, as error.type). */
export function failSpan(span: Span, error: unknown, code?: string): void {
  const message = error instanceof Error ? error.message : String(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.setAttribute(ATTR.errorType, code ?? (error instanceof Error ? error.name : 'Error'));
}

/**
 * Runs `work` in a child span of the active one, which ends when `work` settles; a rejection
 * marks it failed unless `failed` says the error is no failure of its (a pause, a cancel).
 */
export async function inSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  work: (span: Span) => Promise<T>,
  failed: (error: unknown) => boolean = () => true,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      if (failed(error)) failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The active span's ids for a log line (pino's mixin), so that logs and traces meet; none outside a span. */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
