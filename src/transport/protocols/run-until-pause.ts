/**
 * What the protocols that stream one run per HTTP request share (AG-UI, the AI SDK's chat
 * stream): the run's events after a seq, counted under the protocol's label, until the run ends
 * or pauses on a person. Such a stream ends at a pause, because the answer comes with the
 * client's next request, which then streams the rest.
 *
 * A pause is a change of the run's status, which the log does not carry: once the run has opened
 * a request, the stream checks, soon and then less often, whether the run is WAITING with
 * requests open (an agent may ask several questions before it pauses).
 */
import type { StoredEvent } from '../../domain/events.ts';
import type { InputRequestRecord, RunRecord } from '../../domain/records.ts';
import { countedStream } from '../../events/counted-stream.ts';
import type { EventSink, EventStream, Stoppable } from '../../events/event-stream.ts';
import type { Principal } from '../../experience/auth.ts';
import type { Gateway } from '../../gateway.ts';

/** How soon after a request a stream first checks whether the run waits, and at most how long it then goes between checks. */
const WAITING_CHECK_FIRST_MS = 10;
const WAITING_CHECK_MAX_MS = 500;

/** Where a protocol writes the run; after `ended`, nothing more is called. */
export interface RunOutput {
  /** One of the run's events, in seq order. */
  event(event: StoredEvent): void;
  /** The run waits for these requests; `ended` follows. */
  paused(pending: readonly InputRequestRecord[]): void;
  /** The stream failed; `ended` follows. */
  failed(error: unknown): void;
  /** The run ended or paused, the stream failed, or it was stopped: end the response. */
  ended(): void;
}

export class RunUntilPause implements EventSink {
  /**
   * Prepares the stream of `run` after `afterSeq`: fails (NOT_FOUND, BAD_USER_INPUT…) before
   * anything is written. `earlier` are the run's events through `afterSeq`, what the client
   * already has, for a protocol that must know what it showed.
   */
  static async open(gateway: Gateway, principal: Principal, run: RunRecord, afterSeq: number, protocol: string): Promise<RunUntilPause> {
    const { conversations, metrics } = gateway;
    const earlier = await conversations.runEventsThrough(run, afterSeq);
    const events = await conversations.follow(principal, run.conversationId, afterSeq, run.id);
    return new RunUntilPause(gateway, principal, run, countedStream(events, metrics, protocol), earlier);
  }

  /** Requests the run opened and nobody has answered yet, as far as this stream has seen. */
  private readonly open = new Set<string>();
  private output: RunOutput | null = null;
  private pushed: Stoppable | null = null;
  private waitingCheck: NodeJS.Timeout | undefined;
  private checkDelayMs = WAITING_CHECK_FIRST_MS;
  private ended = false;

  private constructor(
    private readonly gateway: Gateway,
    private readonly principal: Principal,
    private readonly run: RunRecord,
    private readonly events: EventStream,
    readonly earlier: readonly StoredEvent[],
  ) {
    for (const event of earlier) this.note(event);
  }

  /** Starts writing to `output`; a run already waiting ends the stream at once. */
  start(output: RunOutput): void {
    this.output = output;
    this.pushed = this.events.push(this);
    if (this.open.size > 0) this.armWaitingCheck();
  }

  /** Ends the stream (the client left, or reads too slowly); the run goes on. */
  stop(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.waitingCheck);
    this.pushed?.stop();
    this.output?.ended();
  }

  event(event: StoredEvent): void {
    if (this.ended) return;
    this.note(event);
    this.output?.event(event);
    if (this.open.size > 0) this.armWaitingCheck();
  }

  failed(error: unknown): void {
    if (this.ended) return;
    this.output?.failed(error);
    this.stop();
  }

  completed(): void {
    this.stop();
  }

  private note(event: StoredEvent): void {
    if (event.type === 'AgentInputRequested') this.open.add(event.request.id);
    if (event.type === 'AgentInputReceived') this.open.delete(event.requestId);
  }

  private armWaitingCheck(): void {
    if (this.ended) return;
    clearTimeout(this.waitingCheck);
    this.waitingCheck = setTimeout(() => {
      this.endIfWaiting().catch((error: unknown) => this.failed(error));
    }, this.checkDelayMs);
  }

  private async endIfWaiting(): Promise<void> {
    const { conversations } = this.gateway;
    const run = await conversations.run(this.principal, this.run.id);
    if (this.ended || !run) return;
    if (run.status !== 'WAITING') {
      if (run.status === 'RUNNING') {
        this.checkDelayMs = Math.min(this.checkDelayMs * 2, WAITING_CHECK_MAX_MS);
        this.armWaitingCheck();
      }
      return;
    }
    const pending = await conversations.pendingInputs(this.run.conversationId, this.run.id);
    if (this.ended || pending.length === 0) return;
    this.output?.paused(pending);
    this.stop();
  }
}
