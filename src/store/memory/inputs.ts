import { inputReceived } from '../../domain/events.ts';
import { ANSWERABLE_STATUSES, allowedFrom } from '../../domain/run-states.ts';
import { OPEN_INPUT_STATUS, settledBy } from '../../domain/input-states.ts';
import type { InputRequestRecord, InputResponse, RunRecord } from '../../domain/records.ts';
import { frozenCopy } from '../../domain/frozen.ts';
import type { AnswerOutcome, InputRequestStore, ResumeLease } from '../interfaces.ts';
import type { MemoryEventLog } from './event-log.ts';
import type { MemoryRunLeases } from './leases.ts';
import type { MemoryRunStore } from './runs.ts';

/** The stores an answer touches, each with the synchronous methods an atomic step needs. */
export interface InputState {
  runs: MemoryRunStore;
  leases: MemoryRunLeases;
  events: MemoryEventLog;
}

/**
 * Input requests in this process. Every method runs without yielding between its first read and
 * its last write, which makes each one atomic here as a script is on Redis.
 */
export class MemoryInputRequestStore implements InputRequestStore {
  private readonly byId = new Map<string, InputRequestRecord>();
  /** Per conversation, its PENDING requests' ids, oldest first. */
  private readonly openIds = new Map<string, string[]>();
  /** When each PENDING request with a due time is next looked at, by id. */
  private readonly due = new Map<string, number>();
  /** Per conversation, the ids of all its requests (for deleting the conversation). */
  private readonly byConversation = new Map<string, Set<string>>();

  constructor(
    private readonly state: InputState,
    private readonly now: () => number = Date.now,
  ) {}

  async open(request: InputRequestRecord) {
    const existing = this.byId.get(request.id);
    if (existing) return existing;
    const stored = frozenCopy({ ...request, status: OPEN_INPUT_STATUS, response: null });
    this.byId.set(stored.id, stored);
    this.byConversation.set(stored.conversationId, (this.byConversation.get(stored.conversationId) ?? new Set()).add(stored.id));
    this.openIds.set(stored.conversationId, [...(this.openIds.get(stored.conversationId) ?? []), stored.id]);
    if (stored.expiresAt !== null) this.due.set(stored.id, Date.parse(stored.expiresAt));
    return stored;
  }

  async get(id: string) {
    return this.byId.get(id) ?? null;
  }

  /** Forgets every request of the conversation. */
  deleteConversationSync(conversationId: string) {
    for (const id of this.byConversation.get(conversationId) ?? []) {
      this.byId.delete(id);
      this.due.delete(id);
    }
    this.byConversation.delete(conversationId);
    this.openIds.delete(conversationId);
  }

  async pending(conversationId: string) {
    return (this.openIds.get(conversationId) ?? []).map((id) => this.byId.get(id)!);
  }

  async answer(id: string, response: InputResponse, lease: ResumeLease): Promise<AnswerOutcome> {
    const request = this.byId.get(id);
    if (!request) return { outcome: 'not-found' };
    const run = this.state.runs.getSync(request.runId);
    if (request.status !== OPEN_INPUT_STATUS || !run || !ANSWERABLE_STATUSES.includes(run.status)) {
      return { outcome: 'settled', request };
    }
    const answered = this.settle(request, settledBy('answer'), response);
    const event = this.state.events.appendSync(inputReceived(request, response));
    const resumed = this.resumeSync(request.runId, lease) !== null;
    return { outcome: 'answered', request: answered, event, resumed };
  }

  async resumeIfAnswered(runId: string, lease: ResumeLease) {
    return this.resumeSync(runId, lease);
  }

  async close(runId: string, conversationId: string, status: 'EXPIRED' | 'CANCELLED', requestId?: string) {
    const settled: InputRequestRecord[] = [];
    for (const request of await this.pending(conversationId)) {
      if (request.runId !== runId || (requestId !== undefined && request.id !== requestId)) continue;
      settled.push(this.settle(request, status, null));
    }
    return settled;
  }

  async claimDue(ttlMs: number, limit: number) {
    const now = this.now();
    const due = [...this.due]
      .filter(([, at]) => at <= now)
      .sort(([, a], [, b]) => a - b)
      .slice(0, Math.max(0, limit));
    for (const [id] of due) this.due.set(id, now + ttlMs);
    return due.map(([id]) => this.byId.get(id)!);
  }

  private settle(request: InputRequestRecord, status: InputRequestRecord['status'], response: InputResponse | null): InputRequestRecord {
    const settled = frozenCopy({ ...request, status, response });
    this.byId.set(settled.id, settled);
    const remaining = (this.openIds.get(request.conversationId) ?? []).filter((id) => id !== request.id);
    if (remaining.length > 0) this.openIds.set(request.conversationId, remaining);
    else this.openIds.delete(request.conversationId);
    this.due.delete(request.id);
    return settled;
  }

  /** The run's move back to QUEUED (the answer's, per the state table) once nothing of it is PENDING. */
  private resumeSync(runId: string, lease: ResumeLease): RunRecord | null {
    const { runs, leases } = this.state;
    const run = runs.getSync(runId);
    if (!run || !allowedFrom('answer', 'QUEUED').includes(run.status)) return null;
    const open = (this.openIds.get(run.conversationId) ?? []).some((id) => this.byId.get(id)!.runId === runId);
    if (open) return null;
    const resumed = runs.transitionSync(runId, allowedFrom('answer', 'QUEUED'), { status: 'QUEUED' });
    if (resumed) leases.acquireSync(runId, run.conversationId, lease.holder, lease.ttlMs);
    return resumed;
  }
}
