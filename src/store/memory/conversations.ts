import type { ConversationStore } from '../interfaces.ts';
import type { ConversationRecord, Owner } from '../../domain/records.ts';
import { ownerKey } from '../owner.ts';
import { frozenCopy } from '../../domain/frozen.ts';

/** Conversations in memory, each stored frozen and handed to readers as it is (see frozen.ts); a touch stores a new one. */
export class MemoryConversationStore implements ConversationStore {
  private readonly byId = new Map<string, ConversationRecord>();

  async createIfAbsent(conversation: ConversationRecord) {
    return this.createIfAbsentSync(conversation);
  }

  /** As `createIfAbsent`, for a caller that must not yield (an atomic send). */
  createIfAbsentSync(conversation: ConversationRecord) {
    const existing = this.byId.get(conversation.id);
    if (existing) return { conversation: existing, created: false };
    const stored = frozenCopy(conversation);
    this.byId.set(stored.id, stored);
    return { conversation: stored, created: true };
  }

  async get(id: string) {
    return this.getSync(id);
  }

  getSync(id: string) {
    return this.byId.get(id) ?? null;
  }

  /** Forgets the conversation; false when there was none. */
  deleteSync(id: string): boolean {
    return this.byId.delete(id);
  }

  async listForOwner(owner: Owner, first: number) {
    const key = ownerKey(owner);
    return [...this.byId.values()]
      .filter((conversation) => ownerKey(conversation.owner) === key)
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.id.localeCompare(a.id))
      .slice(0, first);
  }

  async touch(id: string, updatedAt: string, title?: string) {
    this.touchSync(id, updatedAt, title);
  }

  touchSync(id: string, updatedAt: string, title?: string) {
    const found = this.byId.get(id);
    if (!found) return;
    const later = updatedAt > found.updatedAt;
    const titled = Boolean(title) && (found.title ?? null) === null;
    if (!later && !titled) return;
    this.byId.set(id, Object.freeze({ ...found, updatedAt: later ? updatedAt : found.updatedAt, title: titled ? title! : found.title }));
  }
}
