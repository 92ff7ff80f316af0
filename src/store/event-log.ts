/**
 * The event log as every backend implements it, and what their logs share: how a stored event is
 * numbered, the EVENTS_EXPIRED error, the fencing error.
 */
import type { NewEvent, StoredEvent } from '../domain/events.ts';
import { GatewayError } from '../errors.ts';

/**
 * The per-conversation event log. `append` makes an event durable and numbers it (1, 2, 3, …
 * per conversation, no gap, no repeat) before any listener hears of it; listeners are only the
 * doorbell, the log is the letter.
 */
export interface EventLog {
  /**
   * With `leaseEpoch` (what an executor appends its run's events with), the append is fenced:
   * it happens only while the run's lease is at that epoch, checked in the same atomic step;
   * otherwise it throws LeaseLostError and appends nothing (someone else took the run over).
   * An AgentCompleted's message (the run's reply) is stored among the messages in the same step,
   * numbered with the event's seq (one already stored under its id is left as it is): whoever
   * sees the event finds the reply. A send stores its MessageCreated's message itself.
   */
  append(event: NewEvent, leaseEpoch?: number): Promise<StoredEvent>;
  /**
   * Appends events of one run, in order, as one atomic step: they get consecutive seqs, and
   * either all are stored or none (fenced once, as `append`). Listeners hear of each, in order.
   */
  appendBatch(events: readonly NewEvent[], leaseEpoch?: number): Promise<StoredEvent[]>;
  /**
   * Up to `limit` retained events with `seq > afterSeq`, in order. Throws EVENTS_EXPIRED when
   * events right after `afterSeq` are no longer retained, and, with `view`, when the log is not
   * the one the view has seen (see LogView).
   */
  read(conversationId: string, afterSeq: number, limit: number, view?: LogView): Promise<StoredEvent[]>;
  /** The seq of the conversation's newest event; 0 when it has none. With `view`, as `read`. */
  lastSeq(conversationId: string, view?: LogView): Promise<number>;
  /**
   * Calls `listener` with each event appended from now on, best effort (a listener may miss
   * some; followers fill gaps from `read`), and the epoch of the log it was appended to where
   * logs have one (see LogView). Returns the function that stops listening.
   */
  listen(conversationId: string, listener: LogListener): () => void;
}

/**
 * Hears each event appended to a conversation, with its log's epoch where logs have one;
 * `again` when it is the conversation's newest event told again as a subscription is made
 * again (after a reconnect), not an append.
 */
export type LogListener = (event: StoredEvent, epoch?: string, again?: boolean) => void;

/**
 * What a follower has seen of a conversation's log, where a log can be lost and begun again
 * under the same seqs (Redis as the store of record, flushed or failed over without its latest
 * writes): the log's epoch, a value drawn when the log is begun. A follower passes its view
 * to every read; the log records its epoch there the first time and fails with EVENTS_EXPIRED
 * when it later finds another, so that nobody is handed events renumbered under seqs it holds.
 * Logs that never give a seq twice (memory, PostgreSQL) have no epoch and leave the view alone.
 */
export interface LogView {
  epoch?: string;
}

/** Records `epoch` in `view` when it has none; false when it has another: the log was lost in between. */
export function sameLog(view: LogView, epoch: string): boolean {
  view.epoch ??= epoch;
  return view.epoch === epoch;
}

/** What a follower gets once its log was lost: the events it holds seqs of are gone, and the seqs may be given again. */
export function logLost(conversationId: string): GatewayError {
  return new GatewayError(
    'EVENTS_EXPIRED',
    `The event log of conversation ${conversationId} was lost and begun again; reload the conversation with queries and subscribe from its lastSeq.`,
  );
}

/**
 * What a store of record keeps of the log: appending, numbering and reading, without `listen`
 * (fan-out belongs to the live layer in front of it, which rings the doorbell once an append
 * to the record has returned).
 */
export type RecordLog = Omit<EventLog, 'listen'>;

export interface RetentionPolicy {
  /** How many events each conversation keeps at most. */
  maxEventsPerConversation: number;
  /** How long an event is kept, in milliseconds. */
  maxAgeMs: number;
}

/** A fenced append refused: the run's lease has moved on (see `EventLog.append`). */
export class LeaseLostError extends Error {
  constructor(readonly runId: string) {
    super(`run ${runId} was taken over by another instance; its append was refused`);
    this.name = 'LeaseLostError';
  }
}

/** The stored form of an event: numbered `seq` in its conversation, with the message it carries numbered alike. */
export function withSeq(event: NewEvent, seq: number, timestamp: string): StoredEvent {
  const id = `${event.conversationId}:${seq}`;
  // The new fields are written before the spread and again after it: V8 copies `{ ...a, b }`
  // through a slow path (about 2 µs, on every append), `{ b, ...a }` through its fast one;
  // writing them again keeps them winning over a caller's stray fields of those names.
  const stored = { id, seq, timestamp, ...event } as StoredEvent;
  stored.id = id;
  stored.seq = seq;
  stored.timestamp = timestamp;
  // A message travels inside its event and is numbered by it.
  if (stored.type === 'MessageCreated' || stored.type === 'AgentCompleted') {
    const message = { ...stored.message };
    message.seq = seq;
    stored.message = message;
  }
  return stored;
}

/** What reading before the retained events answers, naming the oldest still retained. */
export function eventsExpired(afterSeq: number, firstRetainedSeq: number): GatewayError {
  return new GatewayError(
    'EVENTS_EXPIRED',
    `Events after seq ${afterSeq} are no longer retained (the oldest retained is ${firstRetainedSeq}); reload the conversation with queries and subscribe from its lastSeq.`,
    { firstRetainedSeq },
  );
}
