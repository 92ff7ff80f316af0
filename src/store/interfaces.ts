/**
 * The state both planes share. Each interface has a memory implementation (the embedded
 * default) and is shaped so that a Redis one can hold the same contract across instances:
 * every method is async and every read-modify-write is a single atomic call.
 */
import type { EventLog, LogListener, RecordLog } from './event-log.ts';
import type { NewEvent, StoredEvent } from '../domain/events.ts';
import type { ConversationRecord, InputRequestRecord, InputResponse, MessageRecord, Owner, RunRecord, RunStatus, SendReservation } from '../domain/records.ts';

export interface ConversationStore {
  /** Creates the conversation unless one with its id exists; returns whichever is stored. */
  createIfAbsent(conversation: ConversationRecord): Promise<{ conversation: ConversationRecord; created: boolean }>;
  get(id: string): Promise<ConversationRecord | null>;
  /** The owner's conversations, most recently updated first. */
  listForOwner(owner: Owner, first: number): Promise<ConversationRecord[]>;
  /** Bumps `updatedAt`, and sets the title when one is given and the conversation has none yet. */
  touch(id: string, updatedAt: string, title?: string): Promise<void>;
}

export interface MessageStore {
  add(message: MessageRecord): Promise<void>;
  /**
   * The last `last` messages of a conversation with `seq <= throughSeq` (default: all), oldest
   * first. The records may be the stored ones (frozen): read them, never change them.
   */
  listLast(conversationId: string, last: number, throughSeq?: number): Promise<MessageRecord[]>;
  /**
   * As `listLast` through the seq of the message `messageId` (a run's history: its own message
   * and what came before, not the messages of runs queued behind it), in one step; through the
   * newest when there is no such message.
   */
  listLastThrough(conversationId: string, last: number, messageId: string): Promise<MessageRecord[]>;
  get(id: string): Promise<MessageRecord | null>;
}

export interface RunStore {
  create(run: RunRecord): Promise<void>;
  get(id: string): Promise<RunRecord | null>;
  /** The last `last` runs of a conversation, oldest first. */
  listLast(conversationId: string, last: number): Promise<RunRecord[]>;
  /**
   * Compare-and-set: applies `patch` only while the run's status is one of `from`.
   * Returns the updated run, or null when the status had already moved on.
   */
  transition(id: string, from: readonly RunStatus[], patch: Partial<RunRecord>): Promise<RunRecord | null>;
}

/**
 * The runs of each conversation whose terminal event has not been appended yet, in the order
 * they were accepted. The head is the run that executes (or is about to); the rest wait.
 */
export interface RunQueue {
  push(conversationId: string, runId: string): Promise<void>;
  list(conversationId: string): Promise<string[]>;
  /**
   * The first run of the queue with its record (null when the queue holds the id of a run that
   * no longer exists), read in one step; null when the queue is empty.
   */
  head(conversationId: string): Promise<QueueHead | null>;
  /**
   * Takes the run out of the queue and answers whether runs are left in it, in one step: whoever
   * ends a run learns whether its queue must move on without another look.
   */
  remove(conversationId: string, runId: string): Promise<boolean>;
}

export interface QueueHead {
  runId: string;
  run: RunRecord | null;
}

/** A send as the Experience plane stores it: all of it in one atomic step, or nothing. */
export interface NewSend {
  /** The per-user idempotency key of the send (its scoped clientMessageId), or null. */
  idempotencyKey: string | null;
  /** The conversation it goes to, created as given unless one with its id exists. */
  conversation: ConversationRecord;
  /** The title the conversation takes if it has none yet. */
  title: string;
  /** The user's message; its `seq` is that of its MessageCreated event. */
  message: MessageRecord;
  /** The run it starts, QUEUED, queued behind the conversation's other runs. */
  run: RunRecord;
  /** Who holds the run's lease until someone starts it, and for how long. */
  lease: { holder: string; ttlMs: number };
  /** How many active (queued or running) runs the conversation may already have. */
  maxActiveRuns: number;
  /**
   * The rate window the send counts against (one hit, before anything else is looked at): a
   * send past the window's limit is refused `rate-limited` and stores nothing.
   */
  rate?: SendRate;
}

/** A fixed window of sends: at most `limit` per `windowMs` under `key` (see RateLimiter). */
export interface SendRate {
  key: string;
  limit: number;
  windowMs: number;
}

/**
 * What storing a send did: `stored` it all; found the key `repeated` (and stored nothing: the
 * ids name what the first send with this key stored); or stored nothing because the send was
 * past its rate window's limit (`rate-limited`, with how long until the window resets), or the
 * conversation is someone else's (`not-owner`) or has `maxActiveRuns` active runs (`busy`).
 */
export type SendOutcome =
  | { outcome: 'stored'; conversation: ConversationRecord; message: MessageRecord; event: StoredEvent }
  | { outcome: 'repeated'; stored: SendReservation }
  | { outcome: 'rate-limited'; retryAfterMs: number }
  | { outcome: 'not-owner' }
  | { outcome: 'busy'; activeRunIds: string[] };

/**
 * Sends, each stored in one atomic step: the conversation (when new), the user's message and
 * its MessageCreated event, the run, its place in the queue, its lease and the idempotency key
 * (remembered for the TTL given to the backend). Whatever dies mid-send, there is never a
 * message without its run nor two messages for one key, and a retry finds what was stored.
 */
export interface SendStore {
  commit(send: NewSend): Promise<SendOutcome>;
  /**
   * Whether `commit` counts the send's `rate` itself, in its atomic step. A store of record's
   * that does not has it counted by the composition (composeBackend), through the live layer's
   * rate limiter, just before: the backend's own always counts it.
   */
  readonly countsRate?: boolean;
}

/** What answering a request did (see `InputRequestStore.answer`). */
export type AnswerOutcome =
  /** Stored the answer and appended its AgentInputReceived; `resumed` when that was the run's last open request. */
  | { outcome: 'answered'; request: InputRequestRecord; event: StoredEvent; resumed: boolean }
  /** Stored nothing: the request is no longer PENDING, or its run no longer waits for it. */
  | { outcome: 'settled'; request: InputRequestRecord }
  | { outcome: 'not-found' };

/** Who holds the lease of a run that an answer resumes, until someone starts it. */
export interface ResumeLease {
  holder: string;
  ttlMs: number;
}

/**
 * The input requests of paused runs (human in the loop). A request is settled once (see
 * domain/input-states.ts): answering is a compare-and-set done in one atomic step with its
 * AgentInputReceived event and, for the run's last open request, the run's move from WAITING
 * back to QUEUED, so that racing answers (through any instance) settle once and a dying
 * answerer leaves nothing half done.
 */
export interface InputRequestStore {
  /** Stores a PENDING request, due at its `expiresAt`; one with its id already stored is kept as it is. Returns the stored one. */
  open(request: InputRequestRecord): Promise<InputRequestRecord>;
  get(id: string): Promise<InputRequestRecord | null>;
  /** The conversation's PENDING requests, oldest first. */
  pending(conversationId: string): Promise<InputRequestRecord[]>;
  /**
   * Stores `response` while the request is PENDING and its run is RUNNING (about to pause) or
   * WAITING, appends its AgentInputReceived, and when the run is WAITING with no other PENDING
   * request moves it to QUEUED under `lease`, all in one step.
   */
  answer(id: string, response: InputResponse, lease: ResumeLease): Promise<AnswerOutcome>;
  /** A WAITING run with no PENDING request moves to QUEUED under `lease` (answers that came while it paused); null otherwise. */
  resumeIfAnswered(runId: string, lease: ResumeLease): Promise<RunRecord | null>;
  /** Settles the run's PENDING requests (only `requestId` when given) as EXPIRED or CANCELLED; returns those it settled. */
  close(runId: string, conversationId: string, status: 'EXPIRED' | 'CANCELLED', requestId?: string): Promise<InputRequestRecord[]>;
  /**
   * Up to `limit` PENDING requests past their `expiresAt` (by the store's clock), each claimed
   * for `ttlMs`: one claimant at a time, and another one after that should it not settle them.
   */
  claimDue(ttlMs: number, limit: number): Promise<InputRequestRecord[]>;
}

/** Mutual exclusion per key, across every instance sharing the store. */
export interface LockService {
  withLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** A head run `startHead` started: RUNNING, its lease held at `leaseEpoch`; `resumed` when it had started before (it paused on a person). */
export interface StartedHead {
  run: RunRecord;
  leaseEpoch: number;
  resumed: boolean;
  /** What its start read and stored for its executor, when it was done in the same step (see Backend.startHead). */
  opened?: OpenedRun;
}

/** What a run's executor needs before its agent runs: given by a start in one step (Backend.startHead), else read by the executor. */
export interface OpenedRun {
  /** Its AgentStarted, stored; null for a run that started before (a resumed run), which has its own. */
  agentStarted: StoredEvent | null;
  /** Its history: the conversation's newest messages through its own (as MessageStore.listLastThrough reads them). */
  history: MessageRecord[];
  /** The live layer's generation when it started (see Backend.liveGeneration). */
  generation: string;
}

/** What `startHead` did: `started` the head run; or changed nothing, having `found` the head (null: the queue was empty), or found the queue `locked`. */
export type HeadStart = { outcome: 'started'; started: StartedHead } | { outcome: 'found'; head: QueueHead | null } | { outcome: 'locked' };

/** A run to complete in one step (see Backend.completeRun). */
export interface RunCompletion {
  run: RunRecord;
  /** What the run's record takes besides its status (usage, activeMs, finishedAt). */
  patch: Partial<RunRecord>;
  /** Its AgentCompleted, carrying the reply. */
  event: NewEvent & { type: 'AgentCompleted' };
  /** Its last streamed text, not yet stored: stored just before the AgentCompleted, in the same step. */
  streamed: readonly NewEvent[];
  /** The lease it executed under, and who holds it. */
  leaseEpoch: number;
  holder: string;
}

/** What `completeRun` did: the run as completed, its streamed text and AgentCompleted as stored, and whether runs were left in its queue when it left. */
export interface CompletedRun {
  run: RunRecord;
  streamed: StoredEvent[];
  event: StoredEvent;
  runsLeft: boolean;
}

/** The lock under which a conversation's run queue changes: advancing it, settling its runs, deleting it. */
export function runQueueLock(conversationId: string): string {
  return `runs:${conversationId}`;
}

/** Fixed-window counters, shared by every instance: how often a key may act per window. */
export interface RateLimiter {
  /** Counts one hit; refuses it (with how long until the window resets) past `limit` per window. */
  hit(key: string, limit: number, windowMs: number): Promise<{ allowed: boolean; retryAfterMs: number }>;
}

/** A message from one instance to every instance, such as "cancel run X". */
export type ControlMessage =
  | { type: 'cancel-run'; runId: string }
  /** A conversation's next run needs a process with room for it (the sender is full or stopping). */
  | { type: 'advance-conversation'; conversationId: string }
  /** A conversation was deleted: subscriptions to it end. */
  | { type: 'conversation-deleted'; conversationId: string };

export interface ControlChannel {
  publish(message: ControlMessage): Promise<void>;
  subscribe(handler: (message: ControlMessage) => void): () => void;
}

/** A run whose lease ran out, or that has none, by its id and conversation. */
export interface ExpiredLease {
  runId: string;
  conversationId: string;
}

/** A lease `RunLeases.claimExpired` took over, with the epoch it now has. */
export interface ClaimedLease extends ExpiredLease {
  epoch: number;
}

/**
 * Deadlines by which someone must have heard of a run again. The instance executing a run
 * renews its lease; a run waiting in a queue gets one too, so that it is looked at again if
 * nobody starts it. When a lease runs out (its holder died, or lost Redis for that long), a
 * surviving instance claims it and settles the run: this is how a run whose executing process
 * dies still ends, and how a queue whose runner died moves on. Expiry uses one clock for every
 * instance (Redis' own, with Redis).
 *
 * Each lease has an epoch, a fencing token: a new one whenever the lease changes hands (a
 * release draws one too), greater than every epoch given before, also after the live layer lost
 * its data (epochs start from the clock, in microseconds). An executor appends its run's events
 * naming the epoch it acquired the lease at (see `EventLog.append`), so that once a survivor has
 * taken the run over, the executor's next append is refused, in the same atomic step, however
 * late it comes. Where the fence is kept apart (`RunFences`), the epochs order the changes of
 * hands recorded there.
 */
export interface RunLeases {
  /**
   * Sets the run's lease, held by `holder` until `ttlMs` from now, whoever held it before.
   * Returns its epoch: the one it had when `holder` held it already, else a new one.
   */
  acquire(runId: string, conversationId: string, holder: string, ttlMs: number): Promise<number>;
  /** Extends the lease by `ttlMs` from now if `holder` still holds it; false when it was taken over or released. */
  renew(runId: string, holder: string, ttlMs: number): Promise<boolean>;
  /**
   * Drops the lease when `holder` holds it, or whoever holds it when `holder` is null. Answers
   * the epoch of that change of hands (to nobody), or 0 when it changed nothing: there was no
   * such lease to drop (or, where the fence is kept apart, a later change was recorded first).
   */
  release(runId: string, holder: string | null): Promise<number>;
  /**
   * Atomically takes over up to `limit` expired leases for `holder` (each now held for `ttlMs`,
   * so that a claimant that dies in turn is replaced too, and at a new epoch unless `holder`
   * held it already) and returns them.
   */
  claimExpired(holder: string, ttlMs: number, limit: number): Promise<ClaimedLease[]>;
  /**
   * Gives each of `runs` that has no lease one, held by `holder` for `ttlMs` (0: one that has
   * run out already, for a sweep to settle); leaves every existing lease as it is.
   */
  adopt(runs: readonly ExpiredLease[], holder: string, ttlMs: number): Promise<void>;
}

/** A run handed to the workers: which run, in which conversation. */
export interface QueuedIntent {
  runId: string;
  conversationId: string;
}

/** An intent as a worker claimed it, with the entry id that acknowledges it. */
export interface ClaimedIntent extends QueuedIntent {
  entryId: string;
}

/**
 * The durable queue between gateways and workers (a write-ahead log of runs to execute): a
 * gateway that leaves execution to workers appends an intent for each run it accepts before it
 * answers; each intent is delivered to one worker, which acts on it (starts the run, or finds
 * that it is someone else's business) and acknowledges it. An intent claimed by a worker that
 * dies before acknowledging it is claimed again by another once it has been idle long enough.
 * Acknowledged intents are deleted, so the queue holds only outstanding ones.
 */
export interface IntentQueue {
  append(intent: QueuedIntent): Promise<void>;
  /** Up to `count` intents not yet delivered to anyone, waiting up to `blockMs` for one to come. */
  claim(consumer: string, count: number, blockMs: number): Promise<ClaimedIntent[]>;
  /** Takes over up to `count` intents that other consumers (or `consumer`) claimed `minIdleMs` ago or more and never acknowledged. */
  reclaimIdle(consumer: string, minIdleMs: number, count: number): Promise<ClaimedIntent[]>;
  ack(entryId: string): Promise<void>;
  /** How many intents are appended and not yet acknowledged. */
  outstanding(): Promise<number>;
  /** Forgets `consumer` (a worker that stops) unless it still has unacknowledged intents. */
  retire(consumer: string): Promise<void>;
}

/**
 * The store of record: what must last (conversations, messages, runs and their queues, sends
 * with their idempotency keys, the event history). Whatever happens to the live layer, nothing
 * acknowledged here is lost and no seq is given twice.
 */
export interface RecordStore {
  /** Its name (its folder under store/), as logged. */
  readonly kind: string;
  conversations: ConversationStore;
  messages: MessageStore;
  runs: RunStore;
  runQueue: RunQueue;
  /**
   * Sends, each in one atomic step. A store of record that keeps no leases (`fences` present)
   * stores no lease either: the composition gives the run its lease right after.
   */
  sends: SendStore;
  /**
   * The input requests of paused runs. A store of record that keeps no leases (`fences`
   * present) leases a run its answer resumes through the composition, as it does a send's.
   */
  inputs: InputRequestStore;
  /**
   * The event history. A store that is its own live layer (memory, Redis) tells every listener
   * of an append in the same atomic step, and gives a whole EventLog; one that is not
   * (PostgreSQL) gives a RecordLog, whose appends the live layer's fan-out announces.
   */
  events: RecordLog | EventLog;
  /**
   * Present when the store fences appends itself (see RunFences), as a store apart from the
   * live layer must (and the Redis store on a cluster, whose leases are in a slot of their own);
   * absent where the live layer's leases fence the log in one atomic step.
   */
  fences?: RunFences;
  /**
   * Runs that hold a lease (LEASED_STATUSES: queued or running), oldest first, at most `limit`: with a live layer apart,
   * the runs whose leases it lost (or never got: their sender died right after storing them)
   * are found through these.
   */
  activeRuns?(limit: number): Promise<RunRecord[]>;
  /**
   * Deletes the conversation and everything of it (messages, runs and their queue, events,
   * idempotency keys) in one atomic step. Returns the ids of the runs it had, or null when there
   * was no such conversation.
   */
  deleteConversation(id: string): Promise<string[] | null>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Fencing kept with the runs in a store of record apart from the live layer: whoever holds a
 * run's lease records it here, and the store appends a run's events fenced with an epoch only
 * while it is the run's fence epoch, checked in the same transaction as the append. Epochs
 * are the store's own, so they survive whatever the live layer loses.
 */
export interface RunFences {
  /**
   * Records that `holder` holds the run since the change of hands that gave the lease the
   * epoch `handover` (`RunLeases`; nobody holds it after a release). Returns the run's fence
   * epoch: the same when `holder` held it already, else one never given before. Changes of
   * hands are recorded after the lease moved, so two may arrive out of order: one older than the
   * last recorded (a smaller `handover`) changes nothing and answers 0, an epoch never given, as
   * does a run that is not stored.
   */
  fence(runId: string, holder: string, handover: number): Promise<number>;
}

/** Tells every instance's listeners of events a store of record appended (which does not tell them itself). */
export interface EventFanout {
  publish(batch: readonly StoredEvent[]): Promise<void>;
  /** As `EventLog.listen`: best effort, a listener may miss some; followers fill gaps from the history. */
  listen(conversationId: string, listener: LogListener): () => void;
  /**
   * Up to `limit` events after `afterSeq` from the newest ones published, when the fan-out keeps
   * them (a hot tail) and holds the one right after `afterSeq`; null sends the read to the history.
   */
  recent?(conversationId: string, afterSeq: number, limit: number): Promise<StoredEvent[] | null>;
  /** Drops what it keeps of a deleted conversation. */
  forget?(conversationId: string): Promise<void>;
}

/**
 * The live layer: what coordinates the instances and carries events to subscribers now (fan-out,
 * control messages, leases, locks, rate limits, the intent queue). It may lose its data; the
 * store of record then tells which runs were active (see RecordStore.activeRuns).
 */
export interface LiveLayer {
  /** Its name (its folder under store/), as logged. */
  readonly kind: string;
  leases: RunLeases;
  locks: LockService;
  rateLimiter: RateLimiter;
  control: ControlChannel;
  intents?: IntentQueue;
  /** The fan-out of a history kept elsewhere, announcing its newest event to listeners that (re)subscribe. */
  fanoutOf(history: RecordLog): EventFanout;
  /** See Backend.liveGeneration. */
  generation(): Promise<string>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Everything the planes need from shared state: a store of record and a live layer composed
 * (store/compose.ts), as the configuration picks them in store/backends.ts (see docs/backends.md).
 */
export interface Backend {
  /** The backend's name (its folder under store/), as logged. */
  readonly kind: string;
  conversations: ConversationStore;
  messages: MessageStore;
  runs: RunStore;
  runQueue: RunQueue;
  leases: RunLeases;
  sends: SendStore;
  locks: LockService;
  rateLimiter: RateLimiter;
  events: EventLog;
  inputs: InputRequestStore;
  control: ControlChannel;
  /**
   * The run queue to workers, for a backend that processes share (so that gateways can leave
   * execution to workers, RUN_EXECUTION=workers); absent where state lives in one process.
   */
  intents?: IntentQueue;
  /**
   * Starts the conversation's head run in one atomic step, where the backend can (one Redis):
   * when nobody holds the queue's lock (`runQueueLock`) and the head run is one the scheduler may
   * start, takes its lease for `holder` and moves it to RUNNING (with `startedAt`, unless it
   * started before), as the scheduler's steps under the lock would. Otherwise it changes nothing,
   * and answers the head it found (as `RunQueue.head` reads it, null for none) or that the queue
   * was locked. A run it starts it also opens, as its executor would next: it appends the run's
   * AgentStarted (unless the run started before), and reads its history of `historyMessages`
   * messages and the live generation. Absent where those steps cost nothing to speak of.
   */
  startHead?(conversationId: string, holder: string, leaseMs: number, startedAt: string, historyMessages: number): Promise<HeadStart>;
  /**
   * Completes a run its executor finished, in one atomic step where the backend can (one
   * Redis): while the run's lease is still at the completion's epoch and the state table lets
   * the executor complete it, moves it to COMPLETED with `patch`, appends its last streamed text
   * and its AgentCompleted (with the reply it carries), touches its conversation with the
   * reply's time, takes the run out of its queue and lets go of its lease, as the executor's
   * steps one after the other would. Null when it changed nothing because the run's status had
   * moved on (a cancel or the timeout came first); throws LeaseLostError, having changed
   * nothing, when the lease had.
   * Absent where those steps cost nothing to speak of.
   */
  completeRun?(completion: RunCompletion): Promise<CompletedRun | null>;
  /** Deletes the conversation and everything of it, its runs' leases too; false when there was none (see RecordStore). */
  deleteConversation(id: string): Promise<boolean>;
  /**
   * Names the live layer's data: the same answer until that data is lost (a flushed Redis, or
   * one restarted without persistence), a new one from then on. A run that started under one
   * generation and finds another was executing when its lease and control state were lost.
   */
  liveGeneration(): Promise<string>;
  /** Resolves when every backing service answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
