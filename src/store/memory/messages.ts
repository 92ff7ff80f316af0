import type { MessageStore } from '../interfaces.ts';
import type { MessageRecord } from '../../domain/records.ts';

/**
 * Messages in memory. Each is copied once when added and frozen, so that readers can be handed
 * the stored record itself: reading a window of a long conversation copies nothing.
 */
export class MemoryMessageStore implements MessageStore {
  private readonly byId = new Map<string, MessageRecord>();
  /** Per conversation, in seq order. */
  private readonly byConversation = new Map<string, MessageRecord[]>();

  async add(message: MessageRecord) {
    this.addSync(message);
  }

  /**
   * As `add`, for a caller that must not yield (an atomic send, an append). Adding a message
   * again leaves the stored one as it is, as on the other backends.
   */
  addSync(message: MessageRecord) {
    if (this.byId.has(message.id)) return;
    const stored = Object.freeze({ ...message });
    this.byId.set(stored.id, stored);
    const list = this.byConversation.get(stored.conversationId) ?? [];
    // Messages are added in seq order almost always: a late one moves back past the few it trails.
    let at = list.length;
    while (at > 0 && list[at - 1]!.seq > stored.seq) at -= 1;
    list.splice(at, 0, stored);
    this.byConversation.set(stored.conversationId, list);
  }

  async listLast(conversationId: string, last: number, throughSeq = Number.POSITIVE_INFINITY) {
    const list = this.byConversation.get(conversationId) ?? [];
    if (last <= 0) return [];
    // Only messages of runs queued behind `throughSeq` are skipped: a handful, not the conversation.
    let end = list.length;
    while (end > 0 && list[end - 1]!.seq > throughSeq) end -= 1;
    return list.slice(Math.max(0, end - last), end);
  }

  async listLastThrough(conversationId: string, last: number, messageId: string) {
    return this.listLast(conversationId, last, this.byId.get(messageId)?.seq);
  }

  async get(id: string) {
    return this.byId.get(id) ?? null;
  }

  /** Forgets every message of the conversation. */
  deleteConversationSync(conversationId: string) {
    for (const message of this.byConversation.get(conversationId) ?? []) this.byId.delete(message.id);
    this.byConversation.delete(conversationId);
  }
}
