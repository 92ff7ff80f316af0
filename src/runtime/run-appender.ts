/**
 * Group commit of one run's events: at most one append to the log is in flight; the events
 * emitted meanwhile wait in a queue and go out together in the next one, as one atomic batch
 * (consecutive seqs, one fence check, one notification: see `EventLog.appendBatch`). A streamed
 * token thus costs its run no round trip of its own, while the order of the run's events and
 * the log's one-step numbering stay as they were.
 *
 * Streamed text (tokens, thinking) also waits for the coalescing window (./append-window.ts): a
 * piece emitted less than the window after the run's previous append was sent waits until then,
 * and goes out with whatever came meanwhile. A model that streams fast then costs one append (a
 * round trip to Redis, a notification, a wake-up of each follower) per window rather than per
 * round trip, and one that streams a token every few tens of ms, or after a quiet spell, waits
 * not at all. Anything else, someone waiting (`append`, `flush`), or a full queue sends what
 * waits at once.
 *
 * Emitting does not wait for the log; a run waits where it must: when the queue is full
 * (backpressure), for an event whose stored form it needs (`append`), and before it ends
 * (`flush`; or `takeHeld`, where the run's end stores the text still held in the same step). A
 * failed batch (the lease taken over, Redis unreachable) fails the appender for good: the
 * queued events are dropped, every later emit throws that failure, so nothing the run emits
 * after a lost event is ever stored, and the log never holds a hole inside a run.
 */
import type { EventType, NewEvent, StoredEvent } from '../domain/events.ts';
import { LeaseLostError, type EventLog } from '../store/event-log.ts';
import type { AppendWindow } from './append-window.ts';

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

/** What may wait for the coalescing window: streamed text, which comes in many small pieces. */
const STREAMED: ReadonlySet<EventType> = new Set(['AgentToken', 'AgentThinking']);

export interface RunAppenderOptions {
  /** The lease epoch the run's appends are fenced with. */
  leaseEpoch?: number;
  hooks?: AppendHooks;
  /** Events that may wait before emitting waits for room. */
  maxQueued?: number;
  /** The coalescing window streamed text waits for after an append (none: it waits only while an append is in flight). */
  window?: AppendWindow;
  /** When the run's previous append was sent, where it was not through this appender (performance.now()). */
  sentBefore?: number;
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
  /** Those waiting for the batch in flight to settle (`takeHeld`). */
  private waitingForBatch: (() => void)[] = [];
  /** When the last batch was handed to the log (performance.now()). */
  private sentAt: number;
  /** Whether what is queued waits for the coalescing window to end. */
  private holding = false;
  private readonly leaseEpoch: number | undefined;
  private readonly hooks: AppendHooks;
  private readonly maxQueued: number;
  private readonly window: AppendWindow | undefined;

  constructor(
    private readonly log: EventLog,
    options: RunAppenderOptions = {},
  ) {
    this.leaseEpoch = options.leaseEpoch;
    this.hooks = options.hooks ?? {};
    this.maxQueued = options.maxQueued ?? MAX_QUEUED_EVENTS;
    this.window = options.window;
    this.sentAt = options.sentBefore ?? -Infinity;
  }

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

  /**
   * As `flush`, except for the streamed text still waiting for the coalescing window: that is
   * taken out of the queue and handed over rather than sent, for a caller that stores it in the
   * same step as the run's end (Backend.completeRun). Nothing else is ever held back: what came
   * otherwise is stored first, and a failure throws as from `flush`.
   */
  async takeHeld(): Promise<NewEvent[]> {
    while (this.writing && !this.holding) await new Promise<void>((resolve) => this.waitingForBatch.push(resolve));
    this.throwIfFailed();
    if (!this.holding) return [];
    // The window's own call comes later and finds nothing held; the next emit starts a writer.
    this.holding = false;
    this.writing = false;
    const held = this.queue;
    this.queue = [];
    return held.map((queued) => queued.event);
  }

  /** As `flush`, without throwing: once it resolves, nothing of the run is in flight any more. */
  settled(): Promise<void> {
    if (!this.writing) return ROOM;
    this.endWindow();
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
    if (this.holding && (!mayWait(queued) || this.queue.length >= this.maxQueued)) this.endWindow();
    if (this.writing) return;
    this.writing = true;
    this.writeNext();
  }

  /** Sends what waits for the coalescing window now (the window's own call comes later, and finds nothing held). */
  private readonly endWindow = (): void => {
    if (!this.holding) return;
    this.holding = false;
    this.writeNext(false);
  };

  /**
   * Holds what is queued until the coalescing window ends, when it is all streamed text, the last
   * batch went out less than the window ago, and no one waits for the writer to stop (a flush
   * made while a batch was in flight): true when it did.
   */
  private holdForWindow(): boolean {
    if (this.window === undefined || this.idle !== null || this.queue.length >= this.maxQueued) return false;
    const until = this.sentAt + this.window.ms;
    if (until <= performance.now() || !this.queue.every(mayWait)) return false;
    this.holding = true;
    this.window.wait(until, this.endWindow);
    return true;
  }

  /**
   * Appends what is queued as one batch, then what was queued meanwhile, until the queue is empty
   * or a batch failed (kept for the emits and flushes after it). Callbacks rather than an async
   * loop: a batch costs the append's promise and the one `then` that waits for it, nothing more.
   * Streamed text may first wait for the coalescing window (`mayWaitForWindow`).
   */
  private writeNext(mayWaitForWindow = true): void {
    if (this.queue.length === 0 || this.failure !== null) {
      // In the same step as the last look at the queue: an event queued from now on starts a
      // writer of its own, none is left behind by one about to finish.
      this.writing = false;
      const idle = this.idle;
      this.idle = null;
      idle?.resolve();
      return;
    }
    if (mayWaitForWindow && this.holdForWindow()) return;
    this.sentAt = performance.now();
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
          this.wakeWaitingForBatch();
        }
      },
      (error: unknown) => {
        this.refused(error);
        this.failure = { error };
        for (const queued of [...batch, ...this.queue]) queued.stored?.reject(error);
        this.queue = [];
        this.wakeWaitingForRoom();
        this.writeNext();
        this.wakeWaitingForBatch();
      },
    );
  }

  private refused(error: unknown): void {
    if (error instanceof LeaseLostError) this.hooks.onRefused?.();
  }

  private wakeWaitingForRoom(): void {
    this.waitingForRoom = wakeAll(this.waitingForRoom);
  }

  private wakeWaitingForBatch(): void {
    this.waitingForBatch = wakeAll(this.waitingForBatch);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}

function mayWait(queued: Queued): boolean {
  return queued.stored === undefined && STREAMED.has(queued.event.type);
}

/** Resolves every waiter (each goes on in a later microtask) and answers the empty list that replaces them. */
function wakeAll(waiting: readonly (() => void)[]): (() => void)[] {
  for (const resolve of waiting) resolve();
  return [];
}
