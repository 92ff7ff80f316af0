/**
 * The Experience plane's service: owns conversations, decides which agent gets a message,
 * applies idempotency and the active-run policy, and hands runs to the Runtime. Every read
 * checks ownership: someone else's conversation looks exactly like one that does not exist.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { GatewayError, badInput, notFound } from '../errors.ts';
import { conversationEvents, type EventStream } from '../events/event-stream.ts';
import type { StoredEvent } from '../domain/events.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { runQueueLock, type Backend, type NewSend } from '../store/interfaces.ts';
import { ownerKey, sameOwner } from '../store/owner.ts';
import type { ConversationRecord, InputRequestRecord, MessageRecord, Owner, RunRecord, SendReservation } from '../domain/records.ts';
import { repeats, responseFor, type AnswerInput } from './input-answers.ts';
import type { AgentDirectory } from '../agents/contract.ts';
import { ConversationDeletions } from './deletions.ts';
import { routeMessage } from './routing.ts';
import { ATTR, ambientContext, annotate, carrierOf, type TraceContext } from '../tracing/spans.ts';
import { assertId, validateSend, type InputLimits, type SendInput, type ValidSend } from './validation.ts';

export interface ConversationServiceOptions {
  backend: Backend;
  runtime: Runtime;
  /** The agents messages may be routed to. */
  agents: AgentDirectory;
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

/** How often an INTERRUPT cancels what is active and tries again before giving up. */
const INTERRUPT_ATTEMPTS = 5;
/**
 * How long deleting a conversation waits for its cancelled runs to let go (their executors
 * append their last events and leave the queue), checking this often. An executor that does not
 * let go by then is gone or cut off, and its appends are refused once the runs are deleted.
 */
const DELETE_WAIT_MS = 3000;
const DELETE_POLL_MS = 20;
const TITLE_LENGTH = 80;
/** Events read from the log at a time. */
const READ_PAGE = 500;

export class ConversationService {
  private readonly deletions: ConversationDeletions;

  constructor(private readonly options: ConversationServiceOptions) {
    this.deletions = new ConversationDeletions(options.backend.control);
  }

  /**
   * Stores the user's message, its MessageCreated event and its run in one atomic step (with
   * the idempotency key, when there is one, counted against the owner's rate window, refused
   * RATE_LIMITED past it), then gets the run moving. A repeat of a key gets
   * what the first send stored, whatever became of the sender.
   */
  async send(owner: Owner, input: SendInput, where: TraceContext = ambientContext()): Promise<SendResult> {
    const { backend, runtime, limits } = this.options;
    const send = validateSend(input, limits);
    const agentId = routeMessage(this.options.agents, send.target, send.surface);
    await runtime.admit(); // too many runs waiting overall answers RATE_LIMITED, storing nothing
    const ids = freshIds(send);
    const now = new Date().toISOString();
    // The send's trace (`where`: the protocol adapter's span, continuing the client's
    // traceparent) goes with the run, for its executions to continue; annotated with what the
    // send is about.
    annotate(where, { [ATTR.conversationId]: ids.conversationId, [ATTR.runId]: ids.runId, [ATTR.agentId]: agentId });
    const trace = carrierOf(where);
    const { run, lease } = runtime.draft({
      runId: ids.runId,
      conversationId: ids.conversationId,
      owner,
      agentId,
      userMessageId: ids.messageId,
      input: {
        text: send.text,
        surface: send.surface,
        projectId: send.projectId,
        context: send.context,
        ...(send.clientTools && { clientTools: send.clientTools }),
        ...(trace && { trace }),
      },
    });
    const newSend: NewSend = {
      idempotencyKey: send.clientMessageId === null ? null : `send:${ownerKey(owner)}:${send.clientMessageId}`,
      conversation: { id: ids.conversationId, owner, title: null, createdAt: now, updatedAt: now },
      title: titleOf(send.text),
      message: { id: ids.messageId, conversationId: ids.conversationId, role: 'USER', text: send.text, agentId: null, runId: run.id, seq: 0, createdAt: now },
      run,
      lease,
      // REJECT and INTERRUPT store only into an idle conversation (INTERRUPT makes it idle first).
      maxActiveRuns: send.onActiveRun === 'ENQUEUE' ? limits.maxQueuedRunsPerConversation : 1,
    };
    // The send counts against its owner's rate window once, with its first attempt to store it.
    const rate = { key: `send:${ownerKey(owner)}`, limit: limits.sendRateLimit, windowMs: limits.sendRateWindowMs };
    for (let attempt = 0; attempt < INTERRUPT_ATTEMPTS; attempt += 1) {
      const outcome = await backend.sends.commit(attempt === 0 ? { ...newSend, rate } : newSend);
      switch (outcome.outcome) {
        case 'rate-limited':
          throw new GatewayError('RATE_LIMITED', 'Too many messages; slow down.', { retryAfterMs: outcome.retryAfterMs });
        case 'stored':
          await runtime.accepted(run);
          return { conversation: outcome.conversation, message: outcome.message, run, afterSeq: outcome.event.seq - 1 };
        case 'repeated':
          return this.replay(outcome.stored);
        case 'not-owner':
          throw notFound('Conversation');
        case 'busy':
          if (send.onActiveRun === 'REJECT') {
            throw new GatewayError('CONFLICT', 'The conversation has an active run.', { activeRunId: outcome.activeRunIds[0] });
          }
          if (send.onActiveRun === 'ENQUEUE') {
            throw new GatewayError('RATE_LIMITED', `The conversation already has ${outcome.activeRunIds.length} runs waiting.`, {
              retryAfterMs: 1000,
            });
          }
          // The newest message supersedes everything still pending in the conversation; a send
          // that comes in meanwhile is found on the next attempt, and cancelled too.
          for (const runId of outcome.activeRunIds) await runtime.cancel(runId, 'Interrupted by a newer message.');
      }
    }
    throw new GatewayError('CONFLICT', 'The conversation stays busy with new runs; retry shortly.');
  }

  /** The result of an earlier send with the same key, as it was answered then. */
  private async replay(stored: SendReservation): Promise<SendResult> {
    const { conversations, messages, runs } = this.options.backend;
    const [conversation, message, run] = await Promise.all([conversations.get(stored.conversationId), messages.get(stored.messageId), runs.get(stored.runId)]);
    if (!conversation || !message || !run) throw new Error(`send ${stored.messageId} is remembered but incomplete`);
    await this.options.runtime.nudge(run);
    return { conversation, message, run, afterSeq: message.seq - 1 };
  }

  /**
   * Deletes the owner's conversation and everything of it, from every store: its active runs are
   * cancelled first, and live subscriptions to it end with NOT_FOUND. False when there is no
   * such conversation of the owner's.
   */
  async delete(owner: Owner, id: string): Promise<boolean> {
    const { backend, runtime } = this.options;
    if (!(await this.conversation(owner, id))) return false;
    for (const run of await runtime.activeRuns(id)) await runtime.cancel(run.id, 'The conversation was deleted.');
    for (const deadline = Date.now() + DELETE_WAIT_MS; Date.now() < deadline;) {
      if ((await backend.runQueue.list(id)).length === 0) break;
      await delay(DELETE_POLL_MS);
    }
    // Under the lock that advancing its queue and recovering its runs take: neither can append
    // to it half deleted.
    const deleted = await backend.locks.withLock(runQueueLock(id), () => backend.deleteConversation(id));
    if (deleted) await backend.control.publish({ type: 'conversation-deleted', conversationId: id });
    return deleted;
  }

  async cancel(owner: Owner, runId: string): Promise<RunRecord> {
    const run = await this.run(owner, runId);
    if (!run) throw notFound('Run');
    return (await this.options.runtime.cancel(run.id, 'Cancelled by the user.')) ?? run;
  }

  /**
   * Answers one of the owner's input requests. Someone else's (or an unknown id) is NOT_FOUND;
   * an answer that does not fit is BAD_USER_INPUT; a request no longer PENDING is CONFLICT,
   * except that repeating the response it has returns it unchanged. Of racing answers, one is
   * stored; the others get CONFLICT. Nothing is stored for any refusal.
   */
  async respond(owner: Owner, input: AnswerInput, where: TraceContext = ambientContext()): Promise<InputRequestRecord> {
    const { backend, runtime, limits } = this.options;
    assertId(input.requestId, 'requestId');
    const request = await backend.inputs.get(input.requestId);
    if (!request || !(await this.conversation(owner, request.conversationId))) throw notFound('Input request');
    if (request.status !== 'PENDING') return this.settledAnswer(request, input, owner);
    const response = responseFor(request, input, owner.userId, { maxAnswerBytes: limits.maxContextBytes, maxCommentLength: limits.maxTextLength });
    annotate(where, { [ATTR.conversationId]: request.conversationId, [ATTR.runId]: request.runId });
    const outcome = await runtime.answer(request.id, response);
    if (outcome.outcome === 'not-found') throw notFound('Input request');
    if (outcome.outcome === 'settled') return this.settledAnswer(outcome.request, input, owner);
    return outcome.request;
  }

  /** What answering a request that is no longer open gives: itself, for a repeat of its response; CONFLICT otherwise. */
  private settledAnswer(request: InputRequestRecord, input: AnswerInput, owner: Owner): InputRequestRecord {
    if (repeats(request, input, owner.userId)) return request;
    const why = request.status === 'PENDING' ? 'its run no longer waits for it' : `it is ${request.status}`;
    throw new GatewayError('CONFLICT', `The request cannot be answered: ${why}.`, { status: request.status });
  }

  /** The owner's input request, or null for one that does not exist or is someone else's. */
  async inputRequest(owner: Owner, id: string): Promise<InputRequestRecord | null> {
    assertId(id, 'requestId');
    const request = await this.options.backend.inputs.get(id);
    return request && (await this.conversation(owner, request.conversationId)) ? request : null;
  }

  /** The open requests of a conversation (already checked), oldest first; only the run's with `runId`. */
  async pendingInputs(conversationId: string, runId?: string): Promise<InputRequestRecord[]> {
    const pending = await this.options.backend.inputs.pending(conversationId);
    return runId === undefined ? pending : pending.filter((request) => request.runId === runId);
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
   * A run's events up to `throughSeq` (already checked to be the owner's): what a stream of it
   * already showed, for a protocol that must re-open what was open when it resumes.
   */
  async runEventsThrough(run: RunRecord, throughSeq: number): Promise<StoredEvent[]> {
    const { events } = this.options.backend;
    const found: StoredEvent[] = [];
    for (let after = await this.runStart(run); after < throughSeq;) {
      const page = await events.read(run.conversationId, after, READ_PAGE);
      for (const event of page) if (event.seq <= throughSeq && event.runId === run.id) found.push(event);
      if (page.length < READ_PAGE) break;
      after = page[page.length - 1]!.seq;
    }
    return found;
  }

  /** The seq just before a run's first event, its MessageCreated (the run already checked): following the run from there gives all of it. */
  async runStart(run: RunRecord): Promise<number> {
    const message = await this.options.backend.messages.get(run.userMessageId);
    return (message?.seq ?? 1) - 1;
  }

  /**
   * The owner's conversation's events: those after `afterSeq` first (none when null), then live
   * ones, each once and in order, pulled or pushed (event-stream.ts). With `runId`, only that
   * run's events, ending after its terminal event.
   */
  async follow(owner: Owner, conversationId: string, afterSeq: number | null, runId: string | null = null): Promise<EventStream> {
    if (!(await this.conversation(owner, conversationId))) throw notFound('Conversation');
    if (afterSeq !== null) {
      if (afterSeq < 0) throw badInput('afterSeq must not be negative.', 'afterSeq');
      // Fail now, as the subscription starts, rather than after it was acknowledged. First the
      // log's own answer: where a lost log can leave a client with an afterSeq past its end
      // (Redis as the store of record), that is EVENTS_EXPIRED, so that the client reloads.
      await this.options.backend.events.read(conversationId, afterSeq, 1);
      const lastSeq = await this.lastSeq(conversationId);
      if (afterSeq > lastSeq) throw badInput(`afterSeq ${afterSeq} is past the conversation's lastSeq ${lastSeq}.`, 'afterSeq');
    }
    const run = runId === null ? null : { runId, afterSeq, endedBy: await this.runEndedBy(conversationId, runId) };
    const events = conversationEvents(this.options.backend.events, conversationId, { afterSeq, bufferLimit: this.options.limits.subscriberBufferEvents }, run);
    return this.deletions.endingOnDeletion(conversationId, events);
  }

  /** Null while the run's terminal event is to come; else a seq at or after it. */
  private async runEndedBy(conversationId: string, runId: string): Promise<number | null> {
    assertId(runId, 'runId');
    const run = await this.options.backend.runs.get(runId);
    if (run?.conversationId !== conversationId) throw notFound('Run');
    // A run leaves its conversation's queue only once its terminal event is in the log, so
    // the lastSeq read after finding it gone is at or after that event.
    if ((await this.options.backend.runQueue.list(conversationId)).includes(runId)) return null;
    return this.lastSeq(conversationId);
  }
}

function freshIds(send: ValidSend): SendReservation {
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
