/**
 * The follow algorithm, driven by callbacks: a conversation's log after `afterSeq`, then its live
 * events, each exactly once and in seq order, handed to a sink as they become next in line. A
 * WebSocket subscriber is pushed events this way without an async step per event; the pull-based
 * stream (follow.ts, for Server-Sent Events) is this same follower paused between pulls.
 *
 * Live notifications are used as-is when they are next in line; on a gap, a missed notification
 * or an overflowing buffer, the missing events are read from the log. Once following, a log that
 * is briefly unreachable (SERVICE_UNAVAILABLE) is read again later rather than ending the follow;
 * reads that fail otherwise, or before the first event, end it with the error.
 *
 * Where a log can be lost and begun again under the same seqs (see LogView), the follower holds
 * the epoch of the log it started on: a notification or a read of another epoch ends it with
 * EVENTS_EXPIRED, as does a read past the log's end (which it makes when the newest event, told
 * again after a reconnect, is older than its cursor), rather than delivering other events under
 * seqs it already delivered, or waiting for seqs that will never be the ones it waits for.
 */
import { GatewayError } from '../errors.ts';
import { logLost, sameLog, type EventLog, type LogView } from '../store/event-log.ts';
import type { StoredEvent } from '../domain/events.ts';

export interface FollowerOptions {
  /** Deliver retained events with a greater seq first; null delivers live events only. */
  afterSeq: number | null;
  /** Live events held while the sink is paused or the log is being read; past it they are dropped and re-read from the log. */
  bufferLimit: number;
  /** Events read from the log per round trip. */
  pageSize?: number;
  /** After the log could not be reached, how long to wait before trying again without a new notification. */
  retryMs?: number;
}

export interface FollowerSink {
  /** Each event once, in seq order; called synchronously from whatever made it next in line. */
  event(event: StoredEvent): void;
  /** The follow ended with this error; nothing more is delivered. */
  failed(error: unknown): void;
}

const DEFAULT_PAGE_SIZE = 200;
const DEFAULT_RETRY_MS = 500;

export class ConversationFollower {
  private cursor = 0;
  /** Whether the cursor is known (after lastSeq answered, for a live-only follow). */
  private ready = false;
  /** Whether the follow is established: its replay (if any) has been read once. */
  private following: boolean;
  private needsLogRead: boolean;
  private highestAnnounced = 0;
  private live: StoredEvent[] = [];
  private page: StoredEvent[] | null = null;
  private pageAt = 0;
  private pageFull = false;
  private reading = false;
  private draining = false;
  private paused = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private stopListening: (() => void) | null = null;
  /** The log this follow is on, as every read and notification has shown it. */
  private readonly view: LogView = {};

  constructor(
    private readonly log: EventLog,
    private readonly conversationId: string,
    private readonly options: FollowerOptions,
    private readonly sink: FollowerSink,
  ) {
    this.following = options.afterSeq === null;
    this.needsLogRead = options.afterSeq !== null;
  }

  start(): void {
    // Listen before deciding where to start, so that nothing appended in between is missed.
    this.stopListening = this.log.listen(this.conversationId, (event, epoch, again) => this.announced(event, epoch, again === true));
    if (this.options.afterSeq !== null) {
      this.begin(this.options.afterSeq);
      return;
    }
    this.log.lastSeq(this.conversationId, this.view).then(
      (seq) => this.begin(seq),
      (error: unknown) => this.fail(error),
    );
  }

  /** Holds events back (live ones up to the buffer limit) until `resume`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.drain();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopListening?.();
    clearTimeout(this.retry);
    this.live = [];
    this.page = null;
  }

  private begin(cursor: number): void {
    if (this.stopped) return;
    this.cursor = cursor;
    this.ready = true;
    this.drain();
  }

  private announced(event: StoredEvent, epoch: string | undefined, again: boolean): void {
    if (this.stopped) return;
    if (epoch !== undefined && !sameLog(this.view, epoch)) return this.fail(logLost(this.conversationId));
    // The newest event, told again after a reconnect, is older than what was delivered: either
    // appends raced the telling, or the log went back and lost what this follow delivered.
    // A read at the cursor tells which (the log answers EVENTS_EXPIRED past its end).
    if (again && this.ready && event.seq < this.cursor) this.needsLogRead = true;
    if (event.seq > this.highestAnnounced) this.highestAnnounced = event.seq;
    if (this.live.length === 0 && this.takesLiveEvents()) this.take(event);
    else if (this.live.length < this.options.bufferLimit) this.live.push(event);
    else this.needsLogRead = true;
    this.drain();
  }

  /** Whether `drain` would take a live event at once: then it need not wait in `live`. */
  private takesLiveEvents(): boolean {
    return this.ready && !this.paused && !this.draining && this.page === null && !this.needsLogRead;
  }

  /**
   * What `drain` does with the next live event, for one that did not wait in `live`: most do
   * not, so that an idle follower holds no storage for them (V8 keeps what an array emptied by
   * `shift` in optimized code had, 152 bytes).
   */
  private take(event: StoredEvent): void {
    this.draining = true;
    try {
      this.handOn(event);
    } finally {
      this.draining = false;
    }
  }

  private drain(): void {
    // A sink that pauses or stops the follower from inside `event` is seen at the loop's next turn.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.ready && !this.stopped && !this.paused) {
        const page = this.page;
        if (page) {
          const event = page[this.pageAt++]!;
          const last = this.pageAt >= page.length;
          if (last) this.page = null;
          if (event.seq === this.cursor + 1) this.deliver(event);
          // A full page means there may be more; a notification beyond the page means the same.
          if (last && (this.pageFull || this.highestAnnounced > this.cursor)) this.needsLogRead = true;
          continue;
        }
        if (this.needsLogRead) {
          if (!this.reading) this.read();
          return;
        }
        const next = this.live.shift();
        if (!next) return;
        // Emptied after a wait: a fresh array, rather than one that keeps the storage it had (see `take`).
        if (this.live.length === 0) this.live = [];
        this.handOn(next);
      }
    } finally {
      this.draining = false;
    }
  }

  /** A live event: delivered when next in line, dropped when delivered already, read from the log after a gap. */
  private handOn(event: StoredEvent): void {
    if (event.seq <= this.cursor) return;
    if (event.seq === this.cursor + 1) this.deliver(event);
    else this.needsLogRead = true;
  }

  private deliver(event: StoredEvent): void {
    this.cursor = event.seq;
    this.sink.event(event);
  }

  private read(): void {
    this.reading = true;
    this.needsLogRead = false;
    clearTimeout(this.retry);
    const pageSize = this.options.pageSize ?? DEFAULT_PAGE_SIZE;
    this.log.read(this.conversationId, this.cursor, pageSize, this.view).then(
      (page) => {
        this.reading = false;
        if (this.stopped) return;
        this.following = true;
        this.pageFull = page.length === pageSize;
        if (page.length > 0) {
          this.page = page;
          this.pageAt = 0;
        } else if (this.pageFull || this.highestAnnounced > this.cursor) {
          this.needsLogRead = true;
        }
        this.drain();
      },
      (error: unknown) => {
        this.reading = false;
        if (this.stopped) return;
        if (!this.following || !isUnavailable(error)) return this.fail(error);
        // Either the log rings again once it is back, or we try again after a pause.
        this.needsLogRead = true;
        this.retry = setTimeout(() => this.drain(), this.options.retryMs ?? DEFAULT_RETRY_MS);
        this.retry.unref();
      },
    );
  }

  private fail(error: unknown): void {
    if (this.stopped) return;
    this.stop();
    this.sink.failed(error);
  }
}

const isUnavailable = (error: unknown) => error instanceof GatewayError && error.code === 'SERVICE_UNAVAILABLE';
