/**
 * Group commit of one run's events: at most one append to the log is in flight; the events
 * emitted meanwhile wait in a queue and go out together in the next one, as one atomic batch
 * (consecutive seqs, one fence check, one notification: see `EventLog.appendBatch`). A streamed
 * token thus costs its run no round trip of its own, while the order of the run's events and
 * the log's one-step numbering stay as they were.
 *
 * Emitting does not wait for the log; a run waits where it must: when the queue is full
 * (backpressure), for an event whose stored form it needs (`append`), and before it ends
 * (`flush`). A failed batch (the lease taken over, Redis unreachable) fails the appender for
 * good: the queued events are dropped, every later emit throws that failure, so nothing the run
 * emits after a lost event is ever stored, and the log never holds a hole inside a run.
 */
import type { NewEvent, StoredEvent } from '../domain/events.ts';
import type { EventLog } from '../store/event-log.ts';

/**
 * How many events may wait for the batch in flight before emitting waits: bounds the memory a
 * fast producer holds and the size of one script call (and of its one notification).
 */
export const MAX_QUEUED_EVENTS = 256;

interface Queued {
  event: NewEvent;
  /** Told of the stored event, for `append`. */
  stored?: { resolve(event: StoredEvent): void; reject(error: unknown): void };
}

export class RunAppender {
  private queue: Queued[] = [];
  private writing: Promise<void> | null = null;
  private failure: { error: unknown } | null = null;
  /** Emits waiting for room in the queue. */
  private waitingForRoom: (() => void)[] = [];

  constructor(
    private readonly log: EventLog,
    private readonly leaseEpoch?: number,
    private readonly maxQueued = MAX_QUEUED_EVENTS,
  ) {}

  /** Queues `event` after those emitted before it; waits only while the queue is full. */
  async emit(event: NewEvent): Promise<void> {
    this.enqueue({ event });
    while (this.queue.length >= this.maxQueued && this.failure === null) {
      await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
    }
    this.throwIfFailed();
  }

  /** Queues `event` and waits until it is stored: for a caller that needs its seq. */
  append(event: NewEvent): Promise<StoredEvent> {
    return new Promise((resolve, reject) => this.enqueue({ event, stored: { resolve, reject } }));
  }

  /** Waits until everything emitted is stored; throws the failure that stopped the appender. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    this.throwIfFailed();
  }

  /** As `flush`, without throwing: once it resolves, nothing of the run is in flight any more. */
  async settled(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private enqueue(queued: Queued): void {
    this.throwIfFailed();
    this.queue.push(queued);
    this.writing ??= this.writeQueued();
  }

  /** Never rejects: a batch's failure is kept for the emits and flushes after it. */
  private async writeQueued(): Promise<void> {
    while (this.queue.length > 0 && this.failure === null) {
      const batch = this.queue;
      this.queue = [];
      this.wakeWaitingForRoom();
      try {
        const stored = await this.log.appendBatch(
          batch.map((queued) => queued.event),
          this.leaseEpoch,
        );
        batch.forEach((queued, i) => queued.stored?.resolve(stored[i]!));
      } catch (error) {
        this.failure = { error };
        for (const queued of [...batch, ...this.queue]) queued.stored?.reject(error);
        this.queue = [];
        this.wakeWaitingForRoom();
      }
    }
    // In the same step as the last look at the queue: an event queued from now on starts a
    // writer of its own, none is left behind by one about to finish.
    this.writing = null;
  }

  private wakeWaitingForRoom(): void {
    const waiting = this.waitingForRoom;
    this.waitingForRoom = [];
    for (const resolve of waiting) resolve();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}
