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
import { LeaseLostError, type EventLog } from '../store/event-log.ts';

/**
 * How many events may wait for the batch in flight before emitting waits: bounds the memory a
 * fast producer holds and the size of one script call (and of its one notification).
 */
export const MAX_QUEUED_EVENTS = 256;

/** What the run's owner is told of its appends, right where they settle: no layer in front of the log. */
export interface AppendHooks {
  /** Every batch stored, in order (for the run's span and the metrics). */
  onStored?(events: readonly StoredEvent[]): void;
  /** An append was refused because the run's lease moved on (LeaseLostError). */
  onRefused?(): void;
}

/** What `emit` answers while the queue has room: one settled promise shared by every emit, not one each. */
const ROOM = Promise.resolve();

interface Queued {
  event: NewEvent;
  /** Told of the stored event, for `append`. */
  stored?: { resolve(event: StoredEvent): void; reject(error: unknown): void };
}

export class RunAppender {
  private queue: Queued[] = [];
  /** Whether a batch is being appended (the writer runs until the queue is empty). */
  private writing = false;
  /** Those waiting for the writer to stop (`flush`, `settled`): made only when someone waits. */
  private idle: { promise: Promise<void>; resolve: () => void } | null = null;
  private failure: { error: unknown } | null = null;
  /** Emits waiting for room in the queue. */
  private waitingForRoom: (() => void)[] = [];

  constructor(
    private readonly log: EventLog,
    private readonly leaseEpoch?: number,
    private readonly hooks: AppendHooks = {},
    private readonly maxQueued = MAX_QUEUED_EVENTS,
  ) {}

  /**
   * Queues `event` after those emitted before it; waits only while the queue is full, and
   * rejects when an earlier batch failed. A streamed token costs no promise of its own while the
   * queue has room.
   */
  emit(event: NewEvent): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.error);
    this.enqueue({ event });
    return this.queue.length >= this.maxQueued ? this.waitForRoom() : ROOM;
  }

  private async waitForRoom(): Promise<void> {
    while (this.queue.length >= this.maxQueued && this.failure === null) {
      await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
    }
    this.throwIfFailed();
  }

  /** Queues `event` and waits until it is stored: for a caller that needs its seq. */
  append(event: NewEvent): Promise<StoredEvent> {
    return new Promise((resolve, reject) => this.enqueue({ event, stored: { resolve, reject } }));
  }

  /**
   * Appends `event` on its own, once nothing else is in flight, whether or not an earlier batch
   * failed: for the events that end what the run opened (see RunScope.appendEnding).
   */
  async appendAlone(event: NewEvent): Promise<StoredEvent> {
    await this.settled();
    try {
      const stored = await this.log.appendBatch([event], this.leaseEpoch);
      this.hooks.onStored?.(stored);
      return stored[0]!;
    } catch (error) {
      this.refused(error);
      throw error;
    }
  }

  /** Waits until everything emitted is stored; throws the failure that stopped the appender. */
  async flush(): Promise<void> {
    await this.settled();
    this.throwIfFailed();
  }

  /** As `flush`, without throwing: once it resolves, nothing of the run is in flight any more. */
  settled(): Promise<void> {
    if (!this.writing) return ROOM;
    if (!this.idle) {
      let resolve!: () => void;
      const promise = new Promise<void>((settle) => (resolve = settle));
      this.idle = { promise, resolve };
    }
    return this.idle.promise;
  }

  private enqueue(queued: Queued): void {
    this.throwIfFailed();
    this.queue.push(queued);
    if (this.writing) return;
    this.writing = true;
    this.writeNext();
  }

  /**
   * Appends what is queued as one batch, then what was queued meanwhile, until the queue is empty
   * or a batch failed (kept for the emits and flushes after it). Callbacks rather than an async
   * loop: a batch costs the append's promise and the one `then` that waits for it, nothing more.
   */
  private writeNext(): void {
    if (this.queue.length === 0 || this.failure !== null) {
      // In the same step as the last look at the queue: an event queued from now on starts a
      // writer of its own, none is left behind by one about to finish.
      this.writing = false;
      const idle = this.idle;
      this.idle = null;
      idle?.resolve();
      return;
    }
    const batch = this.queue;
    this.queue = [];
    this.wakeWaitingForRoom();
    let appended: Promise<StoredEvent[]>;
    try {
      appended = this.log.appendBatch(
        batch.map((queued) => queued.event),
        this.leaseEpoch,
      );
    } catch (error) {
      appended = Promise.reject(error);
    }
    appended.then(
      (stored) => {
        try {
          this.hooks.onStored?.(stored);
        } finally {
          batch.forEach((queued, i) => queued.stored?.resolve(stored[i]!));
          this.writeNext();
        }
      },
      (error: unknown) => {
        this.refused(error);
        this.failure = { error };
        for (const queued of [...batch, ...this.queue]) queued.stored?.reject(error);
        this.queue = [];
        this.wakeWaitingForRoom();
        this.writeNext();
      },
    );
  }

  private refused(error: unknown): void {
    if (error instanceof LeaseLostError) this.hooks.onRefused?.();
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
