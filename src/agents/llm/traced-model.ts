/**
 * A model whose every call is a `chat <model>` span (GenAI conventions: the requested and
 * answering model, the tokens used, why it stopped) and sends the trace context on with its
 * HTTP request (`traceparent`, as headers of the call), so that a traced model server joins the
 * run's trace. A multi-step turn makes one call, so one span, per step. With tracing off the
 * span is the API's no-op one and no header is added.
 */
import { SpanKind, propagation, trace, type Context, type Span } from '@opentelemetry/api';
import { wrapLanguageModel, type LanguageModel, type LanguageModelMiddleware } from 'ai';
import { ATTR, failSpan, tracer } from '../../tracing/spans.ts';

type CallOptions = Parameters<NonNullable<LanguageModelMiddleware['wrapStream']>>[0]['params'];
type StreamResult = Awaited<ReturnType<NonNullable<LanguageModelMiddleware['wrapStream']>>>;
type StreamPart = StreamResult['stream'] extends ReadableStream<infer Part> ? Part : never;

/** A span per call of the model, a child of `parent`'s (the calling agent's). */
function spanPerCall(parent: Context): LanguageModelMiddleware {
  return {
    specificationVersion: 'v3',
    async wrapStream({ params, model }) {
      const span = tracer.startSpan(
        `chat ${model.modelId}`,
        { kind: SpanKind.CLIENT, attributes: { [ATTR.operation]: 'chat', [ATTR.provider]: model.provider, [ATTR.requestModel]: model.modelId } },
        parent,
      );
      const headers: Record<string, string | undefined> = { ...params.headers };
      propagation.inject(trace.setSpan(parent, span), headers);
      const ending = new SpanEnding(span, params);
      try {
        const result = await model.doStream({ ...params, headers });
        return { ...result, stream: result.stream.pipeThrough(ending.observer()) };
      } catch (error) {
        ending.fail(error);
        throw error;
      }
    },
  };
}

/**
 * `model` with a span per call under `parent`; a model given by id (resolved by the AI SDK's
 * global provider) is left as it is.
 */
export function tracedModel(model: LanguageModel, parent: Context): LanguageModel {
  if (typeof model === 'string' || model.specificationVersion !== 'v3') return model;
  return wrapLanguageModel({ model, middleware: spanPerCall(parent) });
}

/** Ends a call's span once, when its stream finishes, fails, or the call is aborted. */
class SpanEnding {
  private ended = false;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => this.end();

  constructor(
    private readonly span: Span,
    params: CallOptions,
  ) {
    // A cancel, a timeout or a pause stops reading the stream: the span ends there.
    this.signal = params.abortSignal;
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  observer(): TransformStream<StreamPart, StreamPart> {
    return new TransformStream({
      transform: (part, controller) => {
        this.observe(part);
        controller.enqueue(part);
      },
      flush: () => this.end(),
    });
  }

  fail(error: unknown): void {
    if (this.ended) return;
    failSpan(this.span, error);
    this.end();
  }

  private observe(part: StreamPart): void {
    switch (part.type) {
      case 'response-metadata':
        if (part.modelId) this.span.setAttribute(ATTR.responseModel, part.modelId);
        if (part.id) this.span.setAttribute(ATTR.responseId, part.id);
        break;
      case 'finish': {
        const { inputTokens, outputTokens } = part.usage;
        if (inputTokens.total !== undefined) this.span.setAttribute(ATTR.inputTokens, inputTokens.total);
        if (outputTokens.total !== undefined) this.span.setAttribute(ATTR.outputTokens, outputTokens.total);
        this.span.setAttribute(ATTR.finishReasons, [part.finishReason.raw ?? part.finishReason.unified]);
        break;
      }
      case 'error':
        this.fail(part.error);
        break;
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.span.end();
  }
}
