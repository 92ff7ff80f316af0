import { LeaseLostError, eventsExpired, withSeq, type EventLog, type RetentionPolicy } from '../event-log.ts';
import type { NewEvent, StoredEvent } from '../../domain/events.ts';
import type { MessageRecord } from '../../domain/records.ts';
import { frozenCopy } from '../../domain/frozen.ts';
import { ConversationListeners } from './listeners.ts';

interface ConversationLog {
  lastSeq: number;
  /** Events from `head` on are retained, oldest first, contiguous in seq; those before are dropped. */
  events: StoredEvent[];
  /** When each event was appended (ms), alongside `events`. */
  times: number[];
  head: number;
}

/** Where a fenced append finds the epoch of its run's lease (the memory leases). */
export interface LeaseEpochs {
  epochSync(runId: string): number | undefined;
}

/** Where an appended AgentCompleted's reply is stored (the memory messages). */
export interface ReplyStore {
  addSync(message: MessageRecord): void;
}

/** Dropped events are cut off the arrays in one go once they are this many and half of them. */
const COMPACT_AFTER = 1024;

export class MemoryEventLog implements EventLog {
  private readonly logs = new Map<string, ConversationLog>();
  private readonly listeners = new ConversationListeners();
  private lastStamp = { at: NaN, iso: '' };

  /**
   * @param leases where fenced appends (with a lease epoch) are checked; without it, every append is taken
   * @param replies where the reply an AgentCompleted carries is stored, in the same step as the
   *   event: a reader that sees the event finds the message
   */
  constructor(
    private readonly retention: RetentionPolicy,
    private readonly now: () => number = Date.now,
    private readonly leases: LeaseEpochs | null = null,
    private readonly replies: ReplyStore | null = null,
  ) {}

  /**
   * Copies the event once (see `sealed`), so that the appender's later changes cannot reach the
   * log, and freezes the copy: the appender, every listener and every reader share that one object.
   */
  async append(event: NewEvent, leaseEpoch?: number): Promise<StoredEvent> {
    this.checkFence([event], leaseEpoch);
    return this.appendSync(event);
  }

  /**
   * One after the other: nothing else runs in between, so the batch is one atomic step, and so
   * is the fence check before it (nothing can take the run over between the two).
   */
  async appendBatch(events: readonly NewEvent[], leaseEpoch?: number): Promise<StoredEvent[]> {
    this.checkFence(events, leaseEpoch);
    // One time for the whole batch, as the other logs stamp theirs.
    const now = this.now();
    return events.map((event) => this.appendSync(event, now));
  }

  private checkFence(events: readonly NewEvent[], leaseEpoch: number | undefined): void {
    if (leaseEpoch === undefined || this.leases === null) return;
    for (const event of events) {
      if (this.leases.epochSync(event.runId) !== leaseEpoch) throw new LeaseLostError(event.runId);
    }
  }

  /** As `append`, for a caller that must not yield (an atomic send); `now`: the time it is stamped with. */
  appendSync(event: NewEvent, now = this.now()): StoredEvent {
    const log = this.logFor(event.conversationId);
    log.lastSeq += 1;
    const stored = sealed(withSeq(event, log.lastSeq, this.timestamp(now)));
    log.events.push(stored);
    log.times.push(now);
    if (stored.type === 'AgentCompleted') this.replies?.addSync(stored.message);
    this.trim(log, now);
    this.listeners.deliver(stored);
    return stored;
  }

  async read(conversationId: string, afterSeq: number, limit: number) {
    const log = this.logs.get(conversationId);
    if (!log) return [];
    this.trim(log);
    const firstRetained = log.events[log.head]?.seq ?? log.lastSeq + 1;
    if (afterSeq < firstRetained - 1) throw eventsExpired(afterSeq, firstRetained);
    const start = log.head + afterSeq - firstRetained + 1;
    return log.events.slice(start, start + limit);
  }

  /** Forgets the conversation's events and its numbering. */
  deleteConversationSync(conversationId: string) {
    this.logs.delete(conversationId);
  }

  async lastSeq(conversationId: string) {
    return this.logs.get(conversationId)?.lastSeq ?? 0;
  }

  listen(conversationId: string, listener: (event: StoredEvent) => void) {
    return this.listeners.listen(conversationId, listener);
  }

  /** The ISO form of `now`, made once per millisecond: events appended together share it. */
  private timestamp(now: number): string {
    if (now !== this.lastStamp.at) this.lastStamp = { at: now, iso: new Date(now).toISOString() };
    return this.lastStamp.iso;
  }

  private logFor(conversationId: string): ConversationLog {
    let log = this.logs.get(conversationId);
    if (!log) {
      log = { lastSeq: 0, events: [], times: [], head: 0 };
      this.logs.set(conversationId, log);
    }
    return log;
  }

  /** Moves the head past what is over the count or the age: O(1) per append, amortized. */
  private trim(log: ConversationLog, now = this.now()) {
    const cutoff = now - this.retention.maxAgeMs;
    let head = Math.max(log.head, log.events.length - this.retention.maxEventsPerConversation);
    while (head < log.events.length && log.times[head]! < cutoff) head += 1;
    log.head = head;
    if (head >= COMPACT_AFTER && head * 2 >= log.events.length) {
      log.events = log.events.slice(head);
      log.times = log.times.slice(head);
      log.head = 0;
    }
  }
}

/**
 * `stored` (withSeq's fresh shallow copy of the appender's event, its message copied too) made the
 * log's own: its other nested values (a tool's arguments, an artifact's data) are copied as well,
 * and all of it is frozen, so that nothing the appender still holds reaches the log and no reader
 * can change what the others share. Most events (tokens, thinking) have no nested value and cost
 * no deep copy.
 */
function sealed(stored: StoredEvent): StoredEvent {
  const fields = stored as unknown as Record<string, unknown>;
  for (const key in fields) {
    const value = fields[key];
    if (typeof value !== 'object' || value === null) continue;
    fields[key] = key === 'message' ? Object.freeze(value) : frozenCopy(value);
  }
  return Object.freeze(stored);
}
