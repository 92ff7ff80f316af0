/**
 * A span per GraphQL query or mutation (over HTTP and over WebSocket), named as the GraphQL
 * semantic conventions name it (`mutation Send`), continuing the client's trace when the request
 * carries a W3C `traceparent`: the HTTP request's header, or for a WebSocket the one its
 * connection gave (connectionParams.traceparent, or the upgrade request's header). Its context is
 * the resolvers' `trace`, which a send hands on to its run (experience/conversations.ts).
 *
 * Subscriptions get no span: one lives for hours and delivers each event to many subscribers
 * through one shared execution; a span per delivery would cost on the hottest path and belong to
 * no run's trace (delivery is measured by the metrics instead).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { SpanKind, SpanStatusCode, propagation, trace, type Context } from '@opentelemetry/api';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { GatewayError } from '../../errors.ts';
import { ambientContext, contextOf, failSpan, tracer, type TraceCarrier } from '../../tracing/spans.ts';

/** What an operation's context may carry its client's trace context in. */
interface TracedContext {
  /** An HTTP request's (yoga puts it in the context). */
  request?: Request;
  /** A WebSocket's, from its connection (src/transport/graphql/websocket.ts). */
  traceCarrier?: TraceCarrier;
  /** The operation's span context, set here for the resolvers. */
  trace?: Context;
}

/** Whether a process registered an OpenTelemetry SDK (its propagator): otherwise spans are left out altogether. */
export function tracingRegistered(): boolean {
  return propagation.fields().length > 0;
}

/**
 * Runs `work` (what a protocol's request does before it streams: a send, an answer) in a SERVER
 * span named `name`, continuing the client's trace from its request's `headers`.
 */
export async function inRequestSpan<T>(name: string, headers: IncomingHttpHeaders, work: (within: Context) => Promise<T>): Promise<T> {
  const parent = contextOf(headers, ambientContext());
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
  try {
    return await work(trace.setSpan(parent, span));
  } catch (error) {
    failSpan(span, error, error instanceof GatewayError ? error.code : undefined);
    throw error;
  } finally {
    span.end();
  }
}

export function useOperationSpans(): Plugin<TracedContext> {
  return {
    onExecute({ args, extendContext }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (!operation) return;
      const type = operation.operation;
      const name = operation.name?.value;
      const { request, traceCarrier } = args.contextValue;
      const fields = request ? { traceparent: request.headers.get('traceparent'), tracestate: request.headers.get('tracestate') } : traceCarrier;
      const parent = contextOf(fields, ambientContext());
      const span = tracer.startSpan(
        name ? `${type} ${name}` : type,
        { kind: SpanKind.SERVER, attributes: { 'graphql.operation.type': type, ...(name && { 'graphql.operation.name': name }) } },
        parent,
      );
      extendContext({ trace: trace.setSpan(parent, span) });
      return {
        onExecuteDone({ result }) {
          const errors = 'errors' in result ? result.errors : undefined;
          if (errors?.length) span.setStatus({ code: SpanStatusCode.ERROR, message: errors[0]!.message });
          span.end();
        },
      };
    },
  };
}
