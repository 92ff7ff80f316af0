/**
 * The spans of one execution of a run, in the trace its send began: the run's stored input
 * carries that trace's context (`RunInput.trace`), so the execution continues it in whichever
 * process executes it, and so does every execution after a pause, however much later and
 * whatever restarted meanwhile.
 *
 *   queue                  from when the run was queued (sent, or answered after a pause) to now
 *   invoke_agent <agent>   this execution; the seq range it appended, how it ended
 */
import { trace, type Context, type Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { StoredEvent } from '../domain/events.ts';
import type { AgentErrorInfo, RunRecord } from '../domain/records.ts';
import { ATTR, contextOf, failSpan, traceLogFields, tracer } from '../tracing/spans.ts';

export class RunSpans {
  private readonly span: Span;
  /** The context the execution runs in: its agents' spans are children of its span. */
  readonly context: Context;
  private firstSeq: number | null = null;
  private lastSeq: number | null = null;

  constructor(
    private readonly run: RunRecord,
    agentName: string | undefined,
    resumed: boolean,
  ) {
    const parent = contextOf(run.input.trace);
    this.span = tracer.startSpan(
      `invoke_agent ${run.agentId}`,
      {
        attributes: {
          [ATTR.operation]: 'invoke_agent',
          [ATTR.agentId]: run.agentId,
          ...(agentName !== undefined && { [ATTR.agentName]: agentName }),
          [ATTR.conversationId]: run.conversationId,
          [ATTR.runId]: run.id,
          [ATTR.runResumed]: resumed,
        },
      },
      parent,
    );
    this.context = trace.setSpan(parent, this.span);
  }

  /** The run's wait before this execution, from `since` (ms since the epoch) to now, as a span beside it. */
  queued(since: number): void {
    if (!Number.isFinite(since)) return;
    const attributes = { [ATTR.conversationId]: this.run.conversationId, [ATTR.runId]: this.run.id };
    tracer.startSpan('queue', { startTime: since, attributes }, contextOf(this.run.input.trace)).end();
  }

  /** Told of every batch of the run's events stored, for the seq range of the execution. */
  stored(events: readonly StoredEvent[]): void {
    for (const { seq } of events) {
      if (this.firstSeq === null || seq < this.firstSeq) this.firstSeq = seq;
      if (this.lastSeq === null || seq > this.lastSeq) this.lastSeq = seq;
    }
  }

  /** How the execution ended: the run's status (WAITING for a pause), with its error when it failed. */
  settle(status: string, error?: AgentErrorInfo | null): void {
    this.span.setAttribute(ATTR.runStatus, status);
    if (error) failSpan(this.span, new Error(error.message), error.code);
  }

  end(): void {
    if (this.firstSeq !== null) this.span.setAttributes({ [ATTR.firstSeq]: this.firstSeq, [ATTR.lastSeq]: this.lastSeq! });
    this.span.end();
  }

  /** `logger`, its lines carrying the ids of the execution's span when it records (tracing on). */
  logger(logger: Logger): Logger {
    const fields = traceLogFields(this.context);
    return fields ? logger.child(fields) : logger;
  }
}
