/**
 * The Runtime: accepts runs as intents, runs one at a time per conversation in the order they
 * were accepted, executes agents, and records each run's lifecycle as events:
 * QUEUED → RUNNING → COMPLETED | FAILED | CANCELLED, with exactly one AgentStarted first and one
 * terminal event last. It knows nothing of GraphQL or of who is asking.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentDefinition, AgentId, AttachedFile } from '../agents/contract.ts';
import { GatewayError } from '../errors.ts';
import { TERMINAL_EVENT_TYPES, type AgentErrorInfo, type EventBody, type StoredEvent } from '../events/types.ts';
import type { Backend, ExpiredLease } from '../store/interfaces.ts';
import { TERMINAL_STATUSES, type MessageRecord, type Owner, type RunInput, type RunRecord, type RunStatus } from '../store/types.ts';
import type { IntentRegistry } from './intents.ts';
import { RunScope } from './run-scope.ts';

export interface RuntimeOptions {
  backend: Backend;
  agents: ReadonlyMap<AgentId, AgentDefinition>;
  intents: IntentRegistry;
  runTimeoutMs: number;
  stepDelayMs: number;
  logger: Logger;
  /** Told of every event a run appends and of every status a run enters (for metrics). */
  onEvent?: (event: StoredEvent) => void;
  onRunStatus?: (status: RunStatus) => void;
  /**
   * How long a run's lease lasts unrenewed (default 15 s). The executing instance renews it every
   * third of that; once it has run out, a surviving instance ends the run with a retryable
   * WORKER_LOST failure. A run whose instance dies thus ends within leaseMs + sweepIntervalMs.
   */
  leaseMs?: number;
  /** How often this instance looks for runs whose lease ran out (default 5 s). */
  sweepIntervalMs?: number;
}

/** A run as the Experience plane asks for it. */
export interface RunIntent {
  runId: string;
  conversationId: string;
  owner: Owner;
  agentId: AgentId;
  userMessageId: string;
  input: RunInput;
}

type StopReason = { status: 'CANCELLED'; reason: string | null } | { status: 'FAILED'; error: AgentErrorInfo };

/** Agents see the whole conversation; this only guards against pathological lengths. */
const HISTORY_LIMIT = 10_000;
/** How far back from a conversation's end to look for a run's terminal event when recovering it. */
const TERMINAL_LOOKBACK = 500;
const SWEEP_BATCH = 100;

const WORKER_LOST: AgentErrorInfo = {
  code: 'WORKER_LOST',
  message: 'The instance executing the run stopped responding; retry the message.',
  retryable: true,
};

interface Execution {
  controller: AbortController;
  done: Promise<void>;
  /** Set when another instance took the run's lease over: it ends the run, not us. */
  leaseLost: boolean;
}

export class Runtime {
  private readonly executing = new Map<string, Execution>();
  private readonly stopListening: () => void;
  private stopping = false;
  /** Holds this instance's leases. */
  private readonly instanceId = randomUUID();
  private readonly leaseMs: number;
  private readonly sweepTimer: NodeJS.Timeout;
  private sweeping: Promise<void> | null = null;

  constructor(private readonly options: RuntimeOptions) {
    this.leaseMs = options.leaseMs ?? 15_000;
    this.stopListening = options.backend.control.subscribe((message) => {
      if (message.type === 'cancel-run') this.executing.get(message.runId)?.controller.abort();
    });
    this.sweepTimer = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => {
        this.sweeping = null;
      });
    }, options.sweepIntervalMs ?? 5_000);
    this.sweepTimer.unref();
  }

  /** Stores the run as QUEUED behind its conversation's earlier runs; it starts when its turn comes. */
  async submit(intent: RunIntent): Promise<RunRecord> {
    const { backend } = this.options;
    const run: RunRecord = {
      id: intent.runId,
      conversationId: intent.conversationId,
      owner: intent.owner,
      agentId: intent.agentId,
      status: 'QUEUED',
      userMessageId: intent.userMessageId,
      input: intent.input,
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      error: null,
      cancelReason: null,
    };
    // The lease first: should this instance die before the run is queued or started, a survivor
    // finds the run when the lease runs out, and settles it.
    await backend.leases.acquire(run.id, run.conversationId, this.instanceId, this.leaseMs);
    await backend.runs.create(run);
    await backend.runQueue.push(run.conversationId, run.id);
    this.options.onRunStatus?.('QUEUED');
    this.schedule(run.conversationId);
    return run;
  }

  /** The conversation's runs that are queued or running, in the order they will run. */
  async activeRuns(conversationId: string): Promise<RunRecord[]> {
    const { backend } = this.options;
    const runs = await Promise.all((await backend.runQueue.list(conversationId)).map((id) => backend.runs.get(id)));
    return runs.filter((run): run is RunRecord => run !== null && !TERMINAL_STATUSES.has(run.status));
  }

  /**
   * Ends a queued or running run as CANCELLED and returns it; a finished run is returned as it is.
   * The status changes at once; the AgentCancelled event follows when the run's executor (or, for a
   * queued run, its turn in the queue) has stopped, so that it is always the run's last event.
   */
  async cancel(runId: string, reason: string | null): Promise<RunRecord | null> {
    const { runs } = this.options.backend;
    // A run may move from QUEUED to RUNNING between our read and our write: then try again.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const run = await runs.get(runId);
      if (!run || TERMINAL_STATUSES.has(run.status)) return run;
      const stopped = await this.stop(run, { status: 'CANCELLED', reason });
      if (stopped) return stopped;
    }
    return runs.get(runId);
  }

  /** Stops taking runs, ends the ones executing here as retryable failures, and waits for them. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    const error = { code: 'SHUTDOWN', message: 'The server shut down while the run was executing.', retryable: true };
    await Promise.all(
      [...this.executing.entries()].map(async ([runId, execution]) => {
        try {
          const run = await this.options.backend.runs.get(runId);
          if (run) await this.stop(run, { status: 'FAILED', error });
        } catch (cause) {
          // The store is unreachable: stop anyway; the run's lease runs out and a survivor ends it.
          this.options.logger.warn({ err: cause, runId }, 'could not record the end of a run at shutdown');
          execution.leaseLost = true;
          execution.controller.abort();
        }
      }),
    );
    await Promise.all([...this.executing.values()].map((execution) => execution.done));
    await this.sweeping;
    this.stopListening();
  }

  /** Moves an active run to its stopped state and makes its executor (wherever it is) let go. */
  private async stop(run: RunRecord, reason: StopReason): Promise<RunRecord | null> {
    const { backend } = this.options;
    const patch: Partial<RunRecord> =
      reason.status === 'CANCELLED'
        ? { status: 'CANCELLED', cancelReason: reason.reason, finishedAt: new Date().toISOString() }
        : { status: 'FAILED', error: reason.error, finishedAt: new Date().toISOString() };
    const stopped = await backend.runs.transition(run.id, [run.status], patch);
    if (!stopped) return null;
    this.options.onRunStatus?.(stopped.status);
    if (run.status === 'RUNNING') {
      // Here at once; elsewhere through the control channel (and, should that message be lost,
      // through the executor's own check of the run's status when it renews its lease).
      this.executing.get(run.id)?.controller.abort();
      await backend.control.publish({ type: 'cancel-run', runId: run.id });
    } else {
      this.schedule(run.conversationId);
    }
    return stopped;
  }

  private schedule(conversationId: string): void {
    this.advance(conversationId).catch((error: unknown) =>
      this.options.logger.error({ err: error, conversationId }, 'advancing the run queue failed'),
    );
  }

  /** Starts the conversation's next run when none is executing. */
  private async advance(conversationId: string): Promise<void> {
    if (this.stopping) return;
    const { backend } = this.options;
    await backend.locks.withLock(`runs:${conversationId}`, async () => {
      for (;;) {
        const [headId] = await backend.runQueue.list(conversationId);
        if (headId === undefined) return;
        const head = await backend.runs.get(headId);
        if (!head) {
          await backend.runQueue.remove(conversationId, headId);
          continue;
        }
        if (head.status === 'QUEUED') {
          // Ours from now: renewed while it executes here, taken over by a survivor if we die.
          await backend.leases.acquire(head.id, conversationId, this.instanceId, this.leaseMs);
          const started = await backend.runs.transition(head.id, ['QUEUED'], {
            status: 'RUNNING',
            startedAt: new Date().toISOString(),
          });
          if (!started) continue; // cancelled meanwhile: look at it again
          this.options.onRunStatus?.('RUNNING');
          this.startExecution(started);
          return;
        }
        if (TERMINAL_STATUSES.has(head.status) && head.startedAt === null) {
          // Ended while it waited (cancelled, or failed by recovery): it takes its turn as an empty
          // run, so that every run has its AgentStarted and terminal event and no two runs'
          // events ever interleave.
          await this.append(head, head.agentId, { type: 'AgentStarted' });
          await this.append(head, head.agentId, terminalOf(head));
          await backend.runQueue.remove(conversationId, head.id);
          await backend.leases.release(head.id, null);
          continue;
        }
        return; // executing, or finishing: its executor advances the queue when done
      }
    });
  }

  private startExecution(run: RunRecord): void {
    const execution: Execution = { controller: new AbortController(), done: Promise.resolve(), leaseLost: false };
    const heartbeat = setInterval(() => void this.heartbeat(run, execution), Math.max(1, Math.floor(this.leaseMs / 3)));
    heartbeat.unref();
    execution.done = this.execute(run, execution)
      .catch((error: unknown) => this.options.logger.error({ err: error, runId: run.id }, 'run execution failed'))
      .finally(() => {
        clearInterval(heartbeat);
        this.executing.delete(run.id);
        this.schedule(run.conversationId);
      });
    this.executing.set(run.id, execution);
  }

  /**
   * Renews the lease of a run executing here. A lease taken over means a survivor has ended the
   * run (we were cut off for too long): stop at once and leave the ending to it. A status that
   * is no longer RUNNING means the run was cancelled or timed out and the message telling us
   * was lost: stop too.
   */
  private async heartbeat(run: RunRecord, execution: Execution): Promise<void> {
    const { backend, logger } = this.options;
    try {
      if (!(await backend.leases.renew(run.id, this.instanceId, this.leaseMs))) {
        logger.warn({ runId: run.id }, 'another instance took over the lease of a run executing here; stopping it');
        execution.leaseLost = true;
        execution.controller.abort();
        return;
      }
      const current = await backend.runs.get(run.id);
      if (current && current.status !== 'RUNNING') execution.controller.abort();
    } catch (error) {
      logger.debug({ err: error, runId: run.id }, 'renewing a run lease failed');
    }
  }

  private async execute(run: RunRecord, execution: Execution): Promise<void> {
    const { signal } = execution.controller;
    const { backend, agents, logger } = this.options;
    const timer = setTimeout(() => {
      const error = { code: 'TIMEOUT', message: `The run exceeded ${this.options.runTimeoutMs} ms.`, retryable: true };
      this.stop(run, { status: 'FAILED', error }).catch((cause: unknown) =>
        logger.error({ err: cause, runId: run.id }, 'stopping a timed-out run failed'),
      );
    }, this.options.runTimeoutMs);
    const scope = new RunScope({
      run,
      files: filesOf(run.input),
      events: backend.events,
      intents: this.options.intents,
      signal,
      stepDelayMs: this.options.stepDelayMs,
      onEvent: this.options.onEvent,
    });
    let outcome: Partial<RunRecord> = { status: 'COMPLETED' };
    try {
      await scope.append(run.agentId, { type: 'AgentStarted' });
      const agent = agents.get(run.agentId as AgentId);
      if (!agent) throw new Error(`no agent ${run.agentId}`);
      await agent.run(scope.contextFor(agent.id, await this.historyFor(run)));
    } catch (error) {
      if (!signal.aborted && error instanceof GatewayError && error.code === 'SERVICE_UNAVAILABLE') {
        logger.warn({ err: error, runId: run.id }, 'the shared store became unavailable during a run');
        outcome = {
          status: 'FAILED',
          error: { code: 'UNAVAILABLE', message: 'The shared store became unavailable during the run; retry the message.', retryable: true },
        };
      } else if (!signal.aborted) {
        const errorId = randomUUID();
        logger.error({ err: error, runId: run.id, errorId }, 'agent failed');
        outcome = {
          status: 'FAILED',
          error: { code: 'AGENT_ERROR', message: `The agent failed (error id ${errorId}).`, retryable: false },
        };
      }
    } finally {
      clearTimeout(timer);
    }
    // Whoever moves the run out of RUNNING first (this executor, a cancel, the timeout) decides
    // how it ends; the executor always appends the terminal event, after the agent has stopped.
    const decided = await backend.runs.transition(run.id, ['RUNNING'], { ...outcome, finishedAt: new Date().toISOString() });
    if (decided) this.options.onRunStatus?.(decided.status);
    const finished = decided ?? (await backend.runs.get(run.id));
    if (!finished) throw new Error(`run ${run.id} vanished while executing`);
    // A survivor that took the lease over appends the terminal event; we must not add another.
    if (execution.leaseLost || !(await backend.leases.renew(run.id, this.instanceId, this.leaseMs))) return;
    await this.appendTerminal(finished, scope);
    await backend.runQueue.remove(run.conversationId, run.id);
    await backend.leases.release(run.id, this.instanceId);
  }

  /** Settles the runs whose lease ran out; each is claimed by exactly one instance. */
  private async sweep(): Promise<void> {
    if (this.stopping) return;
    const { backend, logger } = this.options;
    let expired: ExpiredLease[];
    try {
      expired = await backend.leases.claimExpired(this.instanceId, this.leaseMs, SWEEP_BATCH);
    } catch (error) {
      logger.debug({ err: error }, 'looking for expired run leases failed');
      return;
    }
    for (const lease of expired) {
      await this.recover(lease).catch((error: unknown) =>
        // The lease stays claimed with a fresh expiry: the next sweep (here or elsewhere) retries.
        logger.warn({ err: error, runId: lease.runId }, 'recovering a run whose lease ran out failed'),
      );
    }
  }

  /**
   * A run nobody has vouched for within its lease. Queued: make sure its queue moves (and keep
   * the lease, so that it is looked at again until it starts). Started and still queued: its
   * executor is gone, so end it as WORKER_LOST (or append the terminal event it did not get to)
   * and let the conversation take its next run.
   */
  private async recover({ runId, conversationId }: ExpiredLease): Promise<void> {
    if (this.executing.has(runId)) return; // ours, and alive: we were only slow; the claim made it ours again
    const { backend, logger } = this.options;
    let advance = false;
    await backend.locks.withLock(`runs:${conversationId}`, async () => {
      // Whoever started the run meanwhile (advance() holds this lock) took the lease over: theirs.
      if (this.executing.has(runId) || !(await backend.leases.renew(runId, this.instanceId, this.leaseMs))) return;
      const run = await backend.runs.get(runId);
      if (!run) return backend.leases.release(runId, this.instanceId);
      const queued = (await backend.runQueue.list(conversationId)).includes(runId);
      if (run.status === 'QUEUED') {
        if (!queued) {
          // Its sender died between storing it and queueing it: it ends, in its turn, as lost.
          const lost = await backend.runs.transition(runId, ['QUEUED'], { status: 'FAILED', error: WORKER_LOST, finishedAt: new Date().toISOString() });
          if (lost) {
            this.options.onRunStatus?.('FAILED');
            await backend.runQueue.push(conversationId, runId);
          }
        }
        advance = true;
        return;
      }
      if (!queued) return backend.leases.release(runId, this.instanceId);
      if (run.startedAt === null) {
        advance = true; // ended before it started: its empty turn comes in advance(), which releases the lease
        return;
      }
      let ended: RunRecord | null = run;
      if (run.status === 'RUNNING') {
        ended = await backend.runs.transition(runId, ['RUNNING'], { status: 'FAILED', error: WORKER_LOST, finishedAt: new Date().toISOString() });
        if (!ended) return; // it moved on meanwhile: the next sweep looks again
        this.options.onRunStatus?.('FAILED');
        await this.append(ended, ended.agentId, terminalOf(ended));
      } else if (!(await this.hasTerminalEvent(run))) {
        if (run.status === 'COMPLETED') {
          // Its executor died between deciding and announcing the outcome: the reply is lost with it.
          ended = await backend.runs.transition(runId, ['COMPLETED'], { status: 'FAILED', error: WORKER_LOST });
          if (!ended) return;
        }
        await this.append(ended, ended.agentId, terminalOf(ended));
      }
      logger.warn({ runId, conversationId, status: ended.status }, 'ended a run whose executing instance was lost');
      await backend.runQueue.remove(conversationId, runId);
      await backend.leases.release(runId, this.instanceId);
      advance = true;
    });
    if (advance) this.schedule(conversationId);
  }

  /** Whether the run's terminal event is in the log: it is among the conversation's last events. */
  private async hasTerminalEvent(run: RunRecord): Promise<boolean> {
    const { events } = this.options.backend;
    const lastSeq = await events.lastSeq(run.conversationId);
    let from = Math.max(0, lastSeq - TERMINAL_LOOKBACK);
    const page = await events.read(run.conversationId, from, TERMINAL_LOOKBACK).catch(async (error: unknown) => {
      if (!(error instanceof GatewayError) || error.code !== 'EVENTS_EXPIRED') throw error;
      from = Number(error.extensions['firstRetainedSeq'] ?? lastSeq + 1) - 1;
      return events.read(run.conversationId, from, TERMINAL_LOOKBACK);
    });
    return page.some((event) => event.runId === run.id && TERMINAL_EVENT_TYPES.has(event.type));
  }

  /** The conversation up to the run's own message: later ones belong to runs queued behind it. */
  private async historyFor(run: RunRecord): Promise<MessageRecord[]> {
    const { messages } = this.options.backend;
    const own = await messages.get(run.userMessageId);
    const history = await messages.listLast(run.conversationId, HISTORY_LIMIT);
    return own ? history.filter((message) => message.seq <= own.seq) : history;
  }

  private async appendTerminal(run: RunRecord, scope: RunScope): Promise<void> {
    if (run.status === 'COMPLETED') {
      const message = {
        id: randomUUID(),
        conversationId: run.conversationId,
        role: 'AGENT' as const,
        text: scope.reply,
        agentId: scope.replyAgentId,
        runId: run.id,
        seq: 0,
        createdAt: new Date().toISOString(),
      };
      const event = await scope.append(scope.replyAgentId, { type: 'AgentCompleted', message });
      if (event.type === 'AgentCompleted') await this.options.backend.messages.add(event.message);
      await this.options.backend.conversations.touch(run.conversationId, message.createdAt);
    } else if (run.status === 'CANCELLED') {
      await scope.append(scope.currentAgentId, { type: 'AgentCancelled', reason: run.cancelReason });
    } else {
      const error = run.error ?? { code: 'INTERNAL', message: 'The run failed.', retryable: true };
      await scope.append(scope.currentAgentId, { type: 'AgentFailed', error });
    }
  }

  private async append(run: RunRecord, agentId: string, body: Parameters<RunScope['append']>[1]) {
    const event = await this.options.backend.events.append({
      ...body,
      conversationId: run.conversationId,
      runId: run.id,
      agentId,
    });
    this.options.onEvent?.(event);
    return event;
  }
}

/** The terminal event of a run that has ended, for whoever appends it on the run's behalf. */
function terminalOf(run: RunRecord): EventBody {
  if (run.status === 'CANCELLED') return { type: 'AgentCancelled', reason: run.cancelReason };
  return { type: 'AgentFailed', error: run.error ?? { code: 'INTERNAL', message: 'The run failed.', retryable: true } };
}

/** The attached files of a run, as the Experience plane validated them. */
function filesOf(input: RunInput): AttachedFile[] {
  const files = input.context?.['files'];
  return Array.isArray(files) ? (files as AttachedFile[]) : [];
}
