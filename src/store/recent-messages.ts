/**
 * The newest messages of the conversations whose history was read lately, parsed and frozen, so
 * that the next run of a conversation asks its store only for the messages stored since, rather
 * than for its whole history again (200 messages by default, parsed anew on every run).
 *
 * This holds because a stored message never changes and never goes alone: only its whole
 * conversation is deleted. A store that serves a read from here therefore checks, in the same
 * step as it reads what is newer, that the newest message kept here is still stored as it was:
 * a conversation deleted (and perhaps begun again under the same id) since fails that check, and
 * the history is read whole again.
 *
 * What is kept is bounded by the size of the messages' JSON: the conversations read least
 * recently go first.
 */
import { deepFreeze } from '../domain/frozen.ts';
import type { MessageRecord } from '../domain/records.ts';

/** A message as a history read found it in its store. */
export interface ReadMessage {
  message: MessageRecord;
  /** About how many bytes it holds (its JSON's length): what it counts against the bound. */
  size: number;
  /** What tells this message from any other stored at its seq (its JSON on Redis, its id on PostgreSQL). */
  identity: string;
}

/** What is kept of a conversation: its newest messages as a history read of `limit` gave them. */
export interface KeptHistory {
  /** Oldest first, at most `limit`, frozen. */
  readonly messages: readonly MessageRecord[];
  /** The read's limit: a read of more messages than this needs the older ones, and reads whole. */
  readonly limit: number;
  /** The newest message's identity (see ReadMessage), for the store to check it is still stored. */
  readonly newestIdentity: string;
  /** The newest message's seq. */
  readonly newestSeq: number;
  /** The size of each message, oldest first. */
  readonly sizes: readonly number[];
  readonly bytes: number;
}

/** A history read as planned (see RecentMessages.plan): `count` messages asked for, on from `kept` when it still holds. */
export interface HistoryRead {
  conversationId: string;
  last: number;
  count: number;
  kept: KeptHistory | undefined;
}

/** What a store answers a planned history read: whether it read on from what was kept, and what it read, oldest first. */
export interface HistoryReply {
  onFromKept: boolean;
  read: readonly ReadMessage[];
}

export class RecentMessages {
  /** In the order of their last use, least recent first. */
  private readonly entries = new Map<string, KeptHistory>();
  private bytes = 0;

  /** @param maxBytes the size of all the messages kept, at most (0 keeps none) */
  constructor(private readonly maxBytes: number) {}

  /**
   * A run's history of the `last` newest messages, from what is kept of the conversation and
   * what `fetch` reads of its store (see `plan` and `settle`).
   */
  async history(
    conversationId: string,
    last: number,
    fetch: (count: number, kept: KeptHistory | undefined) => Promise<HistoryReply>,
  ): Promise<MessageRecord[]> {
    const read = this.plan(conversationId, last);
    return this.settle(read, await fetch(read.count, read.kept));
  }

  /**
   * What to ask the store for a history of the `last` newest messages: the newest `count`,
   * oldest first, either all of them or (when `kept` is still stored as it was) only those after
   * `kept`. It asks for as many as are kept, not just `last`: what is kept then stays whole, the
   * newest `count` with no hole between what was kept and what was read.
   */
  plan(conversationId: string, last: number): HistoryRead {
    const kept = this.usable(conversationId, last);
    return { conversationId, last, count: kept?.limit ?? last, kept };
  }

  /** The history that the store's `reply` to the read `planned` gives, kept for the next read. */
  settle(planned: HistoryRead, { onFromKept, read }: HistoryReply): MessageRecord[] {
    return this.keep(planned.conversationId, planned, onFromKept ? planned.kept : undefined, read);
  }

  /** What is kept of the conversation that can answer a read of `last` messages. */
  private usable(conversationId: string, last: number): KeptHistory | undefined {
    const entry = this.entries.get(conversationId);
    if (!entry || entry.limit < last) return undefined;
    this.entries.delete(conversationId);
    this.entries.set(conversationId, entry);
    return entry;
  }

  /** The `last` newest of what was kept (`since`) and then `read`, the newest `count` of which are kept from now. */
  private keep(
    conversationId: string,
    { last, count }: { last: number; count: number },
    since: KeptHistory | undefined,
    read: readonly ReadMessage[],
  ): MessageRecord[] {
    const messages: readonly MessageRecord[] = [...(since?.messages ?? []), ...read.map(({ message }) => deepFreeze(message))].slice(-count);
    const sizes = [...(since?.sizes ?? []), ...read.map(({ size }) => size)].slice(-count);
    const newestIdentity = read.at(-1)?.identity ?? since?.newestIdentity;
    this.forget(conversationId);
    const newest = messages.at(-1);
    if (newest !== undefined && newestIdentity !== undefined) {
      const bytes = sizes.reduce((sum, size) => sum + size, 0);
      this.entries.set(conversationId, { messages, limit: count, newestIdentity, newestSeq: newest.seq, sizes, bytes });
      this.bytes += bytes;
      this.evict();
    }
    return messages.slice(-last);
  }

  private forget(conversationId: string): void {
    const entry = this.entries.get(conversationId);
    if (!entry) return;
    this.entries.delete(conversationId);
    this.bytes -= entry.bytes;
  }

  private evict(): void {
    for (const conversationId of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) return;
      this.forget(conversationId);
    }
  }
}
