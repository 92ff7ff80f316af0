/**
 * The lease sweep: every so often, claim the runs nobody has vouched for within their lease and
 * settle them. This is how a run whose executing process died still ends (AgentFailed,
 * WORKER_LOST, retryable) and how a queue whose runner died moves on. A run waiting for a person
 * holds no lease and is never settled here; the same sweep expires its requests once they are
 * due (INPUT_TIMEOUT_MS), which ends it with AgentFailed INPUT_EXPIRED. Every process that is
 * alive sweeps, whether it executes runs or not: a gateway that leaves execution to workers
 * still ends the runs of a worker that died when no other worker is up.
 */
import { GatewayError } from '../errors.ts';
import { TERMINAL_EVENT_TYPES } from '../domain/events.ts';
import { runQueueLock, type ExpiredLease } from '../store/interfaces.ts';
import type { InputRequestRecord, RunRecord } from '../domain/records.ts';
import { INPUT_EXPIRED, WORKER_LOST, appendRunEvent, terminalOf, type RuntimeBase } from './lifecycle.ts';
import { moveRun } from './run-transitions.ts';
import { endsInItsTurn } from './scheduler.ts';

export interface RecoveryOptions extends RuntimeBase {
  /** Whether the run executes in this process: its lease then ran out only because we were slow. */
  executesHere(runId: string): boolean;
  /**
   * Whether this process is starting the conversation's head run in one step (see
   * Scheduler.isStarting): a run it started is about to execute here, under the lease it took.
   */
  startingHere(conversationId: string): boolean;
  /**
   * Gets the conversation's queue moving after a sweep settled one of its runs (or found its
   * head waiting): advancing it here, or handing it to a worker.
   */
  moveOn(conversationId: string, runId: string): void;
  /** Who holds the leases claimed here. */
  holder: string;
  leaseMs: number;
  sweepIntervalMs: number;
}

/** How far back from a conversation's end to look for a run's terminal event when recovering it. */
const TERMINAL_LOOKBACK = 500;
const SWEEP_BATCH = 100;

export class Recovery {
  private readonly timer: NodeJS.Timeout;
  private sweeping: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly options: RecoveryOptions) {
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => {
        this.sweeping = null;
      });
    }, options.sweepIntervalMs);
    this.timer.unref();
  }

  /** Sweeps no more; resolves once a sweep under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Settles the runs whose lease ran out; each is claimed by exactly one instance. */
  private async sweep(): Promise<void> {
    if (this.stopped) return;
    const { backend, logger, holder, leaseMs } = this.options;
    let expired: ExpiredLease[];
    try {
      expired = await backend.leases.claimExpired(holder, leaseMs, SWEEP_BATCH);
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
    let due: InputRequestRecord[];
    try {
      due = await backend.inputs.claimDue(leaseMs, SWEEP_BATCH);
    } catch (error) {
      logger.debug({ err: error }, 'looking for expired input requests failed');
      return;
    }
    for (const request of due) {
      await this.expire(request).catch((error: unknown) =>
        // Still claimed for a lease's length: the next sweep after that retries.
        logger.warn({ err: error, requestId: request.id }, 'expiring an input request failed'),
      );
    }
  }

  /**
   * A request nobody answered in time: its run (still waiting for it) fails INPUT_EXPIRED first,
   * then the request is EXPIRED, so that dying in between leaves a run that ends rather than one
   * that waits forever; its turn in the queue appends the terminal event and closes the rest.
   */
  private async expire(request: InputRequestRecord): Promise<void> {
    const { backend, holder, leaseMs } = this.options;
    const run = await backend.runs.get(request.runId);
    let ended: RunRecord | null = null;
    if (run?.status === 'WAITING') {
      ended = await moveRun(backend.runs, run.id, 'expiry', 'FAILED', { error: INPUT_EXPIRED, finishedAt: new Date().toISOString(), endedIdle: true }, [
        'WAITING',
      ]);
      if (ended) {
        this.options.onRunStatus?.('FAILED');
        await backend.leases.acquire(run.id, run.conversationId, holder, leaseMs);
      }
    }
    const expired = await backend.inputs.close(request.runId, request.conversationId, 'EXPIRED', request.id);
    if (expired.length > 0) this.options.onInput?.({ type: 'expired' });
    if (ended) {
      await backend.inputs.close(ended.id, ended.conversationId, 'CANCELLED');
      this.options.moveOn(ended.conversationId, ended.id);
    }
  }

  /**
   * A run nobody has vouched for within its lease. Queued: make sure its queue moves (and keep
   * the lease, so that it is looked at again until it starts). Started and still queued: its
   * executor is gone, so end it as WORKER_LOST (or append the terminal event it did not get to)
   * and let the conversation take its next run.
   */
  private async recover({ runId, conversationId }: ExpiredLease): Promise<void> {
    const { backend, logger, executesHere, startingHere, holder, leaseMs } = this.options;
    if (executesHere(runId)) return; // ours, and alive: we were only slow; the claim made it ours again
    let advance = false;
    await backend.locks.withLock(runQueueLock(conversationId), async () => {
      // Whoever started the run meanwhile (advance() holds this lock) took the lease over: theirs.
      // A start in one step takes no lock, but none begins while we hold it: one under way here
      // began before, and the run it may have started executes here under the lease this
      // process holds (the one its claim gave the sweep), so the lease says nothing; the next
      // sweep looks again.
      if (executesHere(runId) || startingHere(conversationId) || !(await backend.leases.renew(runId, holder, leaseMs))) return;
      const run = await backend.runs.get(runId);
      // Waiting for a person holds no lease; one left over (its executor died as it paused) goes.
      if (!run || run.status === 'WAITING') return backend.leases.release(runId, holder);
      const queued = (await backend.runQueue.list(conversationId)).includes(runId);
      if (run.status === 'QUEUED') {
        if (!queued) {
          // Its sender died between storing it and queueing it: it ends, in its turn, as lost.
          const lost = await moveRun(backend.runs, runId, 'sweep', 'FAILED', { error: WORKER_LOST, finishedAt: new Date().toISOString() }, ['QUEUED']);
          if (lost) {
            this.options.onRunStatus?.('FAILED');
            await backend.runQueue.push(conversationId, runId);
          }
        }
        advance = true;
        return;
      }
      if (!queued) return backend.leases.release(runId, holder);
      if (endsInItsTurn(run)) {
        advance = true; // ended while nothing executed it: its turn comes in advance(), which releases the lease
        return;
      }
      let ended: RunRecord | null = run;
      if (run.status === 'RUNNING') {
        ended = await moveRun(backend.runs, runId, 'sweep', 'FAILED', { error: WORKER_LOST, finishedAt: new Date().toISOString() }, ['RUNNING']);
        if (!ended) return; // it moved on meanwhile: the next sweep looks again
        this.options.onRunStatus?.('FAILED');
        // Requests it opened just before its process died end with it.
        await backend.inputs.close(runId, conversationId, 'CANCELLED');
        await appendRunEvent(this.options, ended, ended.agentId, terminalOf(ended));
      } else if (!(await this.hasTerminalEvent(run))) {
        if (run.status === 'COMPLETED') {
          // Its executor died between deciding and announcing the outcome: the reply is lost with it.
          ended = await moveRun(backend.runs, runId, 'sweep', 'FAILED', { error: WORKER_LOST }, ['COMPLETED']);
          if (!ended) return;
        }
        await appendRunEvent(this.options, ended, ended.agentId, terminalOf(ended));
      }
      logger.warn({ runId, conversationId, status: ended.status }, 'ended a run whose executing instance was lost');
      await backend.runQueue.remove(conversationId, runId);
      await backend.leases.release(runId, holder);
      advance = true;
    });
    if (advance) this.options.moveOn(conversationId, runId);
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
}
