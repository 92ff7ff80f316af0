import type { MemoryEventLog } from './event-log.ts';
import type { NewSend, SendOutcome, SendStore } from '../interfaces.ts';
import { sameOwner } from '../owner.ts';
import { TERMINAL_STATUSES, type SendReservation } from '../../domain/records.ts';
import type { MemoryConversationStore } from './conversations.ts';
import type { MemoryRunLeases } from './leases.ts';
import type { MemoryMessageStore } from './messages.ts';
import type { MemoryRunQueue, MemoryRunStore } from './runs.ts';

/** The stores a send writes to, each with the synchronous methods an atomic step needs. */
export interface SendState {
  conversations: MemoryConversationStore;
  messages: MemoryMessageStore;
  runs: MemoryRunStore;
  runQueue: MemoryRunQueue;
  leases: MemoryRunLeases;
  events: MemoryEventLog;
}

/** Expired keys are dropped on access, and all of them once per this many sends. */
const SWEEP_EVERY = 1000;

/**
 * Sends in this process. `commit` never yields between its first read and its last write, so no
 * other send (nor anything else) sees, or acts between, the parts of one.
 */
export class MemorySendStore implements SendStore {
  private readonly keys = new Map<string, { stored: SendReservation; expiresAt: number }>();
  /** The keys of each conversation's sends, so that deleting a conversation forgets them. */
  private readonly keysByConversation = new Map<string, Set<string>>();
  private sendsSinceSweep = 0;

  /** @param keyTtlMs how long an idempotency key is remembered, as with Redis (IDEMPOTENCY_TTL_MS). */
  constructor(
    private readonly state: SendState,
    private readonly keyTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async commit(send: NewSend): Promise<SendOutcome> {
    const { conversations, messages, runs, runQueue, leases, events } = this.state;
    this.sweepNowAndThen();
    const { idempotencyKey: key, conversation, run } = send;
    const repeated = key === null ? undefined : this.live(key);
    if (repeated) return { outcome: 'repeated', stored: { ...repeated.stored } };
    const existing = conversations.getSync(conversation.id);
    if (existing && !sameOwner(existing.owner, conversation.owner)) return { outcome: 'not-owner' };
    const activeRunIds = runQueue.listSync(conversation.id).filter((id) => {
      const queued = runs.getSync(id);
      return queued !== null && !TERMINAL_STATUSES.has(queued.status);
    });
    if (activeRunIds.length >= send.maxActiveRuns) return { outcome: 'busy', activeRunIds };

    if (!existing) conversations.createIfAbsentSync(conversation);
    const event = events.appendSync({ type: 'MessageCreated', conversationId: conversation.id, runId: run.id, agentId: null, message: send.message });
    if (event.type !== 'MessageCreated') throw new Error('the log returned another event than it was given');
    messages.addSync(event.message);
    conversations.touchSync(conversation.id, send.message.createdAt, send.title);
    runs.createSync(run);
    runQueue.pushSync(conversation.id, run.id);
    leases.acquireSync(run.id, conversation.id, send.lease.holder, send.lease.ttlMs);
    if (key !== null) {
      const stored = { conversationId: conversation.id, messageId: send.message.id, runId: run.id };
      this.keys.set(key, { stored, expiresAt: this.now() + this.keyTtlMs });
      const keys = this.keysByConversation.get(conversation.id) ?? new Set();
      this.keysByConversation.set(conversation.id, keys.add(key));
    }
    return { outcome: 'stored', conversation: conversations.getSync(conversation.id)!, message: event.message, event };
  }

  /** Forgets the idempotency keys of the conversation's sends. */
  forgetConversationSync(conversationId: string) {
    for (const key of this.keysByConversation.get(conversationId) ?? []) this.keys.delete(key);
    this.keysByConversation.delete(conversationId);
  }

  private live(key: string) {
    const entry = this.keys.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.keys.delete(key);
      const keys = this.keysByConversation.get(entry.stored.conversationId);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByConversation.delete(entry.stored.conversationId);
      return undefined;
    }
    return entry;
  }

  private sweepNowAndThen() {
    this.sendsSinceSweep += 1;
    if (this.sendsSinceSweep < SWEEP_EVERY) return;
    this.sendsSinceSweep = 0;
    for (const key of [...this.keys.keys()]) this.live(key);
  }
}
