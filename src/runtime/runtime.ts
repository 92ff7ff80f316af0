/**
 * The Runtime as the Experience plane sees it: accepts runs as requests, runs them one at a time
 * per conversation in the order they were accepted, and records each run's lifecycle as events:
 * QUEUED → RUNNING (⇄ WAITING, paused on a person) → COMPLETED | FAILED | CANCELLED (the whole
 * table is domain/run-states.ts), with exactly one AgentStarted first and one terminal event
 * last. It knows nothing of GraphQL or of who is asking.
 *
 * Where runs execute is the dispatch's business: in this process (the default), or on workers
 * that take them from the intent queue (`workers`).
 */
import { randomUUID } from 'node:crypto';
import type { AnswerOutcome, IntentQueue } from '../store/interfaces.ts';
import { TERMINAL_STATUSES, type InputResponse, type Owner, type RunInput, type RunRecord } from '../domain/records.ts';
import { IntentQueueDispatch, LocalDispatch, type RunDispatch } from './dispatch.ts';
import { RunEngine, type EngineOptions } from './engine.ts';
import { stopRun, type RuntimeBase, type StopHooks } from './lifecycle.ts';

export interface RuntimeOptions extends Omit<EngineOptions, 'holder' | 'capacity' | 'handOff'> {
  /**
   * Leave execution to workers: runs are handed over through this intent queue, and refused
   * with RATE_LIMITED while `maxQueuedRuns` intents are outstanding. Without it, runs execute here.
   */
  workers?: { queue: IntentQueue; maxQueuedRuns: number };
}

/** A run as the Experience plane asks for it. */
export interface RunRequest {
  runId: string;
  conversationId: string;
  owner: Owner;
  agentId: string;
  userMessageId: string;
  input: RunInput;
}

export class Runtime {
  /** Holds the leases of the runs accepted here until someone starts them. */
  private readonly instanceId = randomUUID();
  private readonly leaseMs: number;
  private readonly dispatch: RunDispatch;
  private readonly base: RuntimeBase;
  private readonly hooks: StopHooks;

  constructor(options: RuntimeOptions) {
    this.base = options;
    this.leaseMs = options.leaseMs;
    this.dispatch = options.workers
      ? new IntentQueueDispatch({ ...options, ...options.workers, holder: this.instanceId })
      : new LocalDispatch(
          new RunEngine({
            ...options,
            holder: this.instanceId,
            // A stopping gateway's next queued runs go to the instances that stay, at once
            // rather than when their leases run out.
            handOff: ({ conversationId }) => options.backend.control.publish({ type: 'advance-conversation', conversationId }),
          }),
        );
    this.hooks = {
      abortHere: (runId) => this.dispatch.abortHere(runId),
      reschedule: (run) => this.dispatch.dispatch(run),
      holder: this.instanceId,
      leaseMs: this.leaseMs,
    };
  }

  /** Refuses a new run (RATE_LIMITED) while too many runs wait to be executed. */
  admit(): Promise<void> {
    return this.dispatch.admit();
  }

  /**
   * A new run as a send stores it (QUEUED, behind its conversation's earlier runs), with the
   * lease it is stored under: held here until someone starts the run, so that should this
   * instance die before handing the run on, a survivor finds it when the lease runs out.
   */
  draft(request: RunRequest): { run: RunRecord; lease: { holder: string; ttlMs: number } } {
    const run: RunRecord = {
      id: request.runId,
      conversationId: request.conversationId,
      owner: request.owner,
      agentId: request.agentId,
      status: 'QUEUED',
      userMessageId: request.userMessageId,
      input: request.input,
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      error: null,
      cancelReason: null,
    };
    return { run, lease: { holder: this.instanceId, ttlMs: this.leaseMs } };
  }

  /** Gets a run that a send has just stored moving: it starts when its turn comes. */
  async accepted(run: RunRecord): Promise<void> {
    this.base.onRunStatus?.('QUEUED');
    await this.dispatch.dispatch(run);
  }

  /**
   * Gets a stored run that is still QUEUED moving again, as a repeated send does: should the
   * first send have died before handing its run on, the run starts now rather than when its
   * lease runs out. Harmless when the run is already on its way.
   */
  async nudge(run: RunRecord): Promise<void> {
    if (run.status === 'QUEUED') await this.dispatch.dispatch(run);
  }

  /** The conversation's runs that are queued or running, in the order they will run. */
  async activeRuns(conversationId: string): Promise<RunRecord[]> {
    const { backend } = this.base;
    const runs = await Promise.all((await backend.runQueue.list(conversationId)).map((id) => backend.runs.get(id)));
    return runs.filter((run): run is RunRecord => run !== null && !TERMINAL_STATUSES.has(run.status));
  }

  /**
   * Ends a queued, running or waiting run as CANCELLED and returns it (a waiting run's requests
   * are cancelled with it); a finished run is returned as it is.
   * The status changes at once; the AgentCancelled event follows when the run's executor (or, for a
   * queued run, its turn in the queue) has stopped, so that it is always the run's last event.
   */
  async cancel(runId: string, reason: string): Promise<RunRecord | null> {
    const { runs } = this.base.backend;
    // A run may move from QUEUED to RUNNING between our read and our write: then try again.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const run = await runs.get(runId);
      if (!run || TERMINAL_STATUSES.has(run.status)) return run;
      const stopped = await stopRun(this.base, this.hooks, run, { status: 'CANCELLED', reason });
      if (stopped) return stopped;
    }
    return runs.get(runId);
  }

  /**
   * Answers an input request (checked by the caller: the owner's, and fitting): stored at most
   * once however many answers race, with its AgentInputReceived; the run's last answer resumes
   * it wherever it lands (here, or on a worker), under a lease of this instance until it starts.
   */
  async answer(requestId: string, response: InputResponse): Promise<AnswerOutcome> {
    const outcome = await this.base.backend.inputs.answer(requestId, response, { holder: this.instanceId, ttlMs: this.leaseMs });
    if (outcome.outcome !== 'answered') return outcome;
    const { request } = outcome;
    this.base.onInput?.({ type: 'answered', waitedMs: Date.parse(response.respondedAt) - Date.parse(request.createdAt) });
    if (outcome.resumed) {
      this.base.onRunStatus?.('QUEUED');
      await this.dispatch.dispatch({ id: request.runId, conversationId: request.conversationId });
    }
    return outcome;
  }

  /**
   * Stops taking runs, lets the ones executing here finish for up to `graceMs` (or until
   * `cutShort` aborts), ends the rest as retryable failures, and waits for them.
   */
  shutdown(graceMs = 0, cutShort?: AbortSignal): Promise<void> {
    return this.dispatch.shutdown(graceMs, cutShort);
  }
}
