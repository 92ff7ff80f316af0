/**
 * The Experience plane's service: owns conversations, decides which agent gets a message,
 * applies idempotency and the active-run policy, and hands runs to the Runtime. Every read
 * checks ownership: someone else's conversation looks exactly like one that does not exist.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError, badInput, notFound } from '../errors.ts';
import { followConversation } from '../events/follow.ts';
import type { StoredEvent } from '../events/types.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { Backend } from '../store/interfaces.ts';
import { ownerKey, sameOwner } from '../store/owner.ts';
import type { ConversationRecord, MessageRecord, Owner, RunRecord, SendReservation } from '../store/types.ts';
import { routeMessage } from './routing.ts';
import { assertId, validateSend, type InputLimits, type SendInput, type ValidSend } from './validation.ts';

export interface ConversationServiceOptions {
  backend: Backend;
  runtime: Runtime;
  limits: InputLimits & {
    maxQueuedRunsPerConversation: number;
    sendRateLimit: number;
    sendRateWindowMs: number;
    subscriberBufferEvents: number;
  };
}

export interface SendResult {
  conversation: ConversationRecord;
  message: MessageRecord;
  run: RunRecord;
  afterSeq: number;
}

/** How long a repeated send waits for the first one with the same clientMessageId to finish. */
const IDEMPOTENT_WAIT_MS = 15_000;
const TITLE_LENGTH = 80;

export class ConversationService {
  constructor(private readonly options: ConversationServiceOptions) {}

  async send(owner: Owner, input: SendInput): Promise<SendResult> {
    const send = validateSend(input, this.options.limits);
    const agentId = routeMessage(send.target, send.surface);
    await this.takeRateLimit(owner);
    if (send.clientMessageId === null) return this.store(owner, send, agentId, freshReservation(send));
    return this.sendOnce(owner, send, agentId);
  }

  /** A send with a clientMessageId: the first claims the key; repeats, even concurrent, get its result. */
  private async sendOnce(owner: Owner, send: ValidSend, agentId: ReturnType<typeof routeMessage>): Promise<SendResult> {
    const { idempotency } = this.options.backend;
    const key = `send:${ownerKey(owner)}:${send.clientMessageId}`;
    // Two rounds: if the first claimant fails (and releases the key), this send makes its own attempt.
    for (let round = 0; round < 2; round += 1) {
      const reservation = freshReservation(send);
      const claim = await idempotency.reserve(key, reservation);
      if (claim.reserved) {
        try {
          const result = await this.store(owner, send, agentId, reservation);
          await idempotency.settle(key);
          return result;
        } catch (error) {
          await idempotency.release(key);
          throw error;
        }
      }
      const settled = await idempotency.awaitSettled(key, IDEMPOTENT_WAIT_MS).catch(() => {
        throw new GatewayError('CONFLICT', 'A send with this clientMessageId is still in progress; retry shortly.');
      });
      if (settled) return this.replay(settled);
    }
    throw new GatewayError('CONFLICT', 'A send with this clientMessageId keeps failing; retry shortly.');
  }

  /** The result of an earlier send, as it was answered then. */
  private async replay(reservation: SendReservation): Promise<SendResult> {
    const { conversations, messages, runs } = this.options.backend;
    const [conversation, message, run] = await Promise.all([
      conversations.get(reservation.conversationId),
      messages.get(reservation.messageId),
      runs.get(reservation.runId),
    ]);
    if (!conversation || !message || !run) throw new Error(`send ${reservation.messageId} is settled but incomplete`);
    return { conversation, message, run, afterSeq: message.seq - 1 };
  }

  private async store(
    owner: Owner,
    send: ValidSend,
    agentId: ReturnType<typeof routeMessage>,
    ids: SendReservation,
  ): Promise<SendResult> {
    const { backend, runtime } = this.options;
    await runtime.admit(); // before storing anything: too many runs waiting overall answers RATE_LIMITED
    const conversation = await this.openConversation(owner, ids.conversationId);
    return backend.locks.withLock(`conversation:${conversation.id}`, async () => {
      await this.applyActiveRunPolicy(conversation.id, send);
      const now = new Date().toISOString();
      const event = await backend.events.append({
        type: 'MessageCreated',
        conversationId: conversation.id,
        runId: ids.runId,
        agentId: null,
        message: {
          id: ids.messageId,
          conversationId: conversation.id,
          role: 'USER',
          text: send.text,
          agentId: null,
          runId: ids.runId,
          seq: 0,
          createdAt: now,
        },
      });
      if (event.type !== 'MessageCreated') throw new Error('the log returned another event than it was given');
      await backend.messages.add(event.message);
      await backend.conversations.touch(conversation.id, now, titleOf(send.text));
      const run = await runtime.submit({
        runId: ids.runId,
        conversationId: conversation.id,
        owner,
        agentId,
        userMessageId: ids.messageId,
        input: { text: send.text, surface: send.surface, projectId: send.projectId, context: send.context },
      });
      const stored = (await backend.conversations.get(conversation.id)) ?? conversation;
      return { conversation: stored, message: event.message, run, afterSeq: event.seq - 1 };
    });
  }

  /** Continues the owner's conversation, or creates it (with the client's id or a fresh one). */
  private async openConversation(owner: Owner, id: string): Promise<ConversationRecord> {
    const { conversations } = this.options.backend;
    const existing = await conversations.get(id);
    if (existing) {
      if (!sameOwner(existing.owner, owner)) throw notFound('Conversation');
      return existing;
    }
    const now = new Date().toISOString();
    const { conversation } = await conversations.createIfAbsent({ id, owner, title: null, createdAt: now, updatedAt: now });
    // Someone else may have created the same id a moment before us.
    if (!sameOwner(conversation.owner, owner)) throw notFound('Conversation');
    return conversation;
  }

  private async applyActiveRunPolicy(conversationId: string, send: ValidSend): Promise<void> {
    const { runtime, limits } = this.options;
    const active = await runtime.activeRuns(conversationId);
    if (active.length === 0) return;
    if (send.onActiveRun === 'REJECT') {
      throw new GatewayError('CONFLICT', 'The conversation has an active run.', { activeRunId: active[0]!.id });
    }
    if (send.onActiveRun === 'INTERRUPT') {
      // The newest message supersedes everything still pending in the conversation.
      for (const run of active) await runtime.cancel(run.id, 'Interrupted by a newer message.');
      return;
    }
    if (active.length >= limits.maxQueuedRunsPerConversation) {
      throw new GatewayError('RATE_LIMITED', `The conversation already has ${active.length} runs waiting.`, {
        retryAfterMs: 1000,
      });
    }
  }

  private async takeRateLimit(owner: Owner): Promise<void> {
    const { limits, backend } = this.options;
    const verdict = await backend.rateLimiter.hit(`send:${ownerKey(owner)}`, limits.sendRateLimit, limits.sendRateWindowMs);
    if (!verdict.allowed) {
      throw new GatewayError('RATE_LIMITED', 'Too many messages; slow down.', { retryAfterMs: verdict.retryAfterMs });
    }
  }

  async cancel(owner: Owner, runId: string): Promise<RunRecord> {
    const run = await this.run(owner, runId);
    if (!run) throw notFound('Run');
    return (await this.options.runtime.cancel(run.id, 'Cancelled by the user.')) ?? run;
  }

  /** The owner's conversation, or null for one that does not exist or is someone else's. */
  async conversation(owner: Owner, id: string): Promise<ConversationRecord | null> {
    assertId(id, 'id');
    const conversation = await this.options.backend.conversations.get(id);
    return conversation && sameOwner(conversation.owner, owner) ? conversation : null;
  }

  async conversations(owner: Owner, first: number): Promise<ConversationRecord[]> {
    return this.options.backend.conversations.listForOwner(owner, clamp(first, 0, 100, 'first'));
  }

  async run(owner: Owner, id: string): Promise<RunRecord | null> {
    assertId(id, 'id');
    const run = await this.options.backend.runs.get(id);
    return run && sameOwner(run.owner, owner) ? run : null;
  }

  // The conversation-scoped reads below are reached only through a conversation already checked.

  messages(conversationId: string, last: number): Promise<MessageRecord[]> {
    return this.options.backend.messages.listLast(conversationId, clamp(last, 0, 500, 'last'));
  }

  runs(conversationId: string, last: number): Promise<RunRecord[]> {
    return this.options.backend.runs.listLast(conversationId, clamp(last, 0, 200, 'last'));
  }

  async activeRun(conversationId: string): Promise<RunRecord | null> {
    return (await this.options.runtime.activeRuns(conversationId))[0] ?? null;
  }

  lastSeq(conversationId: string): Promise<number> {
    return this.options.backend.events.lastSeq(conversationId);
  }

  events(conversationId: string, afterSeq: number, first: number): Promise<StoredEvent[]> {
    if (afterSeq < 0) throw badInput('afterSeq must not be negative.', 'afterSeq');
    return this.options.backend.events.read(conversationId, afterSeq, clamp(first, 0, 1000, 'first'));
  }

  /**
   * The owner's conversation's events: those after `afterSeq` first (none when null), then live
   * ones, each once and in order, until `signal` aborts.
   */
  async follow(owner: Owner, conversationId: string, afterSeq: number | null, signal: AbortSignal) {
    if (!(await this.conversation(owner, conversationId))) throw notFound('Conversation');
    if (afterSeq !== null) {
      if (afterSeq < 0) throw badInput('afterSeq must not be negative.', 'afterSeq');
      const lastSeq = await this.lastSeq(conversationId);
      if (afterSeq > lastSeq) throw badInput(`afterSeq ${afterSeq} is past the conversation's lastSeq ${lastSeq}.`, 'afterSeq');
      // Fail now, as the subscription starts, rather than after it was acknowledged.
      await this.options.backend.events.read(conversationId, afterSeq, 1);
    }
    return followConversation(this.options.backend.events, conversationId, {
      afterSeq,
      bufferLimit: this.options.limits.subscriberBufferEvents,
      signal,
    });
  }
}

function freshReservation(send: ValidSend): SendReservation {
  return { conversationId: send.conversationId ?? randomUUID(), messageId: randomUUID(), runId: randomUUID() };
}

function titleOf(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > TITLE_LENGTH ? `${line.slice(0, TITLE_LENGTH - 1)}…` : line;
}

function clamp(value: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${field} must be an integer from ${min} to ${max}.`, field);
  }
  return value;
}
