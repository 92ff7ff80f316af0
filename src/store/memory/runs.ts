import type { RunQueue, RunStore } from '../interfaces.ts';
import type { RunRecord, RunStatus } from '../../domain/records.ts';
import { frozenCopy } from '../../domain/frozen.ts';

/** Runs in memory, each stored frozen and handed to readers as it is (see frozen.ts); a transition stores a new one. */
export class MemoryRunStore implements RunStore {
  private readonly byId = new Map<string, RunRecord>();
  private readonly byConversation = new Map<string, string[]>();

  async create(run: RunRecord) {
    this.createSync(run);
  }

  /** As `create`, for a caller that must not yield (an atomic send); likewise `getSync`. */
  createSync(run: RunRecord) {
    this.byId.set(run.id, frozenCopy(run));
    const ids = this.byConversation.get(run.conversationId) ?? [];
    ids.push(run.id);
    this.byConversation.set(run.conversationId, ids);
  }

  async get(id: string) {
    return this.getSync(id);
  }

  getSync(id: string) {
    return this.byId.get(id) ?? null;
  }

  async listLast(conversationId: string, last: number) {
    const ids = this.byConversation.get(conversationId) ?? [];
    return (last > 0 ? ids.slice(-last) : []).map((id) => this.byId.get(id)!);
  }

  /** Forgets every run of the conversation; returns their ids. */
  deleteConversationSync(conversationId: string): string[] {
    const ids = this.byConversation.get(conversationId) ?? [];
    for (const id of ids) this.byId.delete(id);
    this.byConversation.delete(conversationId);
    return ids;
  }

  async transition(id: string, from: readonly RunStatus[], patch: Partial<RunRecord>) {
    return this.transitionSync(id, from, patch);
  }

  transitionSync(id: string, from: readonly RunStatus[], patch: Partial<RunRecord>) {
    const found = this.byId.get(id);
    if (!found || !from.includes(found.status)) return null;
    const updated = Object.freeze({ ...found, ...frozenCopy(patch) });
    this.byId.set(id, updated);
    return updated;
  }
}

export class MemoryRunQueue implements RunQueue {
  private readonly queues = new Map<string, string[]>();

  /** @param runs the store the queued runs are kept in (for `head`) */
  constructor(private readonly runs: MemoryRunStore) {}

  async push(conversationId: string, runId: string) {
    this.pushSync(conversationId, runId);
  }

  /** As `push`, for a caller that must not yield (an atomic send); likewise `listSync`. */
  pushSync(conversationId: string, runId: string) {
    const queue = this.queues.get(conversationId) ?? [];
    queue.push(runId);
    this.queues.set(conversationId, queue);
  }

  async list(conversationId: string) {
    return this.listSync(conversationId);
  }

  async head(conversationId: string) {
    const runId = this.queues.get(conversationId)?.[0];
    return runId === undefined ? null : { runId, run: await this.runs.get(runId) };
  }

  listSync(conversationId: string) {
    return [...(this.queues.get(conversationId) ?? [])];
  }

  deleteConversationSync(conversationId: string) {
    this.queues.delete(conversationId);
  }

  async remove(conversationId: string, runId: string) {
    const remaining = (this.queues.get(conversationId) ?? []).filter((id) => id !== runId);
    if (remaining.length > 0) this.queues.set(conversationId, remaining);
    else this.queues.delete(conversationId);
    return remaining.length > 0;
  }
}
