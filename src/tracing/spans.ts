/**
 * What the gateway's code uses to trace: only `@opentelemetry/api`. Until a process starts the
 * SDK (./sdk.ts, when an OTLP endpoint is configured) every call here goes to the API's no-op
 * tracer and no-op propagator: spans record nothing and carriers stay empty. An application that
 * embeds the gateway as a library and registers an SDK of its own gets these spans in its traces.
 *
 * Every span is given its parent explicitly (a `Context`), never through an "active" context:
 * on Node 20, the context manager that tracks one (AsyncLocalStorage) runs a hook for every
 * promise of the process once enabled, which cost about a quarter of the CPU of streaming a
 * run's events (bench/tracing.ts), for the few spans a run has.
 *
 * Names follow the OpenTelemetry GenAI semantic conventions (`invoke_agent <agent>`,
 * `execute_tool <tool>`, `chat <model>`, `gen_ai.*` attributes); what is the gateway's own is
 * under `agent_gateway.*`.
 */
import { ROOT_CONTEXT, SpanStatusCode, context, propagation, trace, type Context, type Span } from '@opentelemetry/api';

export type { Context as TraceContext } from '@opentelemetry/api';

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

type Attributes = Record<string, string | number | boolean>;

/**
 * The context a caller that passes none works in: the root one, unless an application that
 * embeds the gateway registered a context manager of its own (then whatever span it has open).
 */
export function ambientContext(): Context {
  return context.active();
}

/** A W3C trace context as text: `traceparent` and, when there is one, `tracestate`. */
export type TraceCarrier = Record<string, string>;

/**
 * `parent` as a carrier to store or send on; undefined when there is nothing to carry (tracing
 * off, or no span in it), so that nothing is stored or sent then.
 */
export function carrierOf(parent: Context): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(parent, carrier);
  return carrier['traceparent'] === undefined ? undefined : carrier;
}

/** Headers that carry `parent` to a remote service (none when tracing is off). */
export function traceHeaders(parent: Context): TraceCarrier {
  return carrierOf(parent) ?? {};
}

/**
 * The W3C trace-context fields of `fields` (a run's stored carrier, Node's request headers, a
 * WebSocket's connectionParams), when a traceparent is among them.
 */
export function carrierFrom(fields: Readonly<Record<string, unknown>> | undefined): TraceCarrier | undefined {
  const traceparent = fields?.['traceparent'];
  if (typeof traceparent !== 'string' || traceparent === '') return undefined;
  const tracestate = fields?.['tracestate'];
  return { traceparent, ...(typeof tracestate === 'string' && tracestate !== '' && { tracestate }) };
}

/** The context a carrier continues, on top of `base`; `base` itself without one. */
export function contextOf(fields: Readonly<Record<string, unknown>> | undefined, base: Context = ROOT_CONTEXT): Context {
  const carrier = carrierFrom(fields);
  return carrier ? propagation.extract(base, carrier) : base;
}

/** Attributes on the span of `where` (a send's: which conversation and run it is about). */
export function annotate(where: Context, attributes: Attributes): void {
  trace.getSpan(where)?.setAttributes(attributes);
}

/** An event on the span of `where` (an agent asking a person, say). */
export function addSpanEvent(where: Context, name: string, attributes: Attributes): void {
  trace.getSpan(where)?.addEvent(name, attributes);
}

/** Marks a span as failed with `error` (its code, when it has one, as error.type). */
export function failSpan(span: Span, error: unknown, code?: string): void {
  const message = error instanceof Error ? error.message : String(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.setAttribute(ATTR.errorType, code ?? (error instanceof Error ? error.name : 'Error'));
}

/**
 * Runs `work` in a child span of `parent`'s, given the child's context; the span ends when
 * `work` settles. A rejection marks it failed unless `failed` says the error is no failure of
 * its (a pause, a cancel).
 */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  parent: Context,
  work: (within: Context) => Promise<T>,
  failed: (error: unknown) => boolean = () => true,
): Promise<T> {
  const span = tracer.startSpan(name, { attributes }, parent);
  try {
    return await work(trace.setSpan(parent, span));
  } catch (error) {
    if (failed(error)) failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** The ids of the span of `where`, for log lines (none when it records nothing). */
export function traceLogFields(where: Context): { trace_id: string; span_id: string } | null {
  const span = trace.getSpan(where);
  if (!span?.isRecording()) return null;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * The trace context each agent context of a run works in (its agent's span), kept beside it so
 * that the agent contract need not carry it: model calls and remote agents find theirs here.
 */
const agentTraces = new WeakMap<object, Context>();

export function bindTraceContext(agentContext: object, where: Context): void {
  agentTraces.set(agentContext, where);
}

/** The trace context `agentContext` works in; the root one for a context no run made (a test's). */
export function traceContextOf(agentContext: object): Context {
  return agentTraces.get(agentContext) ?? ROOT_CONTEXT;
}
