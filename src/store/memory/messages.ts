import type { MessageStore } from '../interfaces.ts';
import type { MessageRecord } from '../types.ts';

export class MemoryMessageStore implements MessageStore {
  private readonly byId = new Map<string, MessageRecord>();
  private readonly byConversation = new Map<string, MessageRecord[]>();

  async add(message: MessageRecord) {
    this.addSync(message);
  }

  /** As `add`, for a caller that must not yield (an atomic send). */
  addSync(message: MessageRecord) {
    const stored = structuredClone(message);
    this.byId.set(stored.id, stored);
    const list = this.byConversation.get(stored.conversationId) ?? [];
    list.push(stored);
    // Messages are added in seq order almost always; keep the list sorted for the rare race.
    list.sort((a, b) => a.seq - b.seq);
    this.byConversation.set(stored.conversationId, list);
  }

  async listLast(conversationId: string, last: number) {
    const list = this.byConversation.get(conversationId) ?? [];
    return (last > 0 ? list.slice(-last) : []).map((message) => structuredClone(message));
  }

  async get(id: string) {
    const found = this.byId.get(id);
    return found ? structuredClone(found) : null;
  }
}
