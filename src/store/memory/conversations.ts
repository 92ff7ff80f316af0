import type { ConversationStore } from '../interfaces.ts';
import type { ConversationRecord, Owner } from '../../domain/records.ts';
import { ownerKey } from '../owner.ts';

export class MemoryConversationStore implements ConversationStore {
  private readonly byId = new Map<string, ConversationRecord>();

  async createIfAbsent(conversation: ConversationRecord) {
    return this.createIfAbsentSync(conversation);
  }

  /** As `createIfAbsent`, for a caller that must not yield (an atomic send). */
  createIfAbsentSync(conversation: ConversationRecord) {
    const existing = this.byId.get(conversation.id);
    if (existing) return { conversation: structuredClone(existing), created: false };
    this.byId.set(conversation.id, structuredClone(conversation));
    return { conversation: structuredClone(conversation), created: true };
  }

  async get(id: string) {
    return this.getSync(id);
  }

  getSync(id: string) {
    const found = this.byId.get(id);
    return found ? structuredClone(found) : null;
  }

  async listForOwner(owner: Owner, first: number) {
    const key = ownerKey(owner);
    return [...this.byId.values()]
      .filter((conversation) => ownerKey(conversation.owner) === key)
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id.localeCompare(a.id))
      .slice(0, first)
      .map((conversation) => structuredClone(conversation));
  }

  async touch(id: string, updatedAt: string, title?: string) {
    this.touchSync(id, updatedAt, title);
  }

  touchSync(id: string, updatedAt: string, title?: string) {
    const found = this.byId.get(id);
    if (!found) return;
    if (updatedAt > found.updatedAt) found.updatedAt = updatedAt;
    if (title) found.title ??= title;
  }
}
