import type { NewEvent, StoredEvent } from './types.ts';

/**
 * The per-conversation event log. `append` makes an event durable and numbers it (1, 2, 3, …
 * per conversation, no gap, no repeat) before any listener hears of it; listeners are only the
 * doorbell, the log is the letter.
 */
export interface EventLog {
  append(event: NewEvent): Promise<StoredEvent>;
  /**
   * Up to `limit` retained events with `seq > afterSeq`, in order. Throws EVENTS_EXPIRED when
   * events right after `afterSeq` are no longer retained.
   */
  read(conversationId: string, afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** The seq of the conversation's newest event; 0 when it has none. */
  lastSeq(conversationId: string): Promise<number>;
  /**
   * Calls `listener` with each event appended from now on, best effort (a listener may miss
   * some; followers fill gaps from `read`). Returns the function that stops listening.
   */
  listen(conversationId: string, listener: (event: StoredEvent) => void): () => void;
}

export interface RetentionPolicy {
  /** How many events each conversation keeps at most. */
  maxEventsPerConversation: number;
  /** How long an event is kept, in milliseconds. */
  maxAgeMs: number;
}
