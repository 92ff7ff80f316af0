/**
 * The executing side of the Runtime in one process: executor, scheduler and lease sweep, and the
 * control channel's cancels for the runs executing here. An embedded gateway has one (behind
 * the local dispatch); so does every worker.
 */
import { randomUUID } from 'node:crypto';
import type { AgentDirectory } from '../agents/contract.ts';
import type { RunRecord } from '../domain/records.ts';
import { Executor } from './executor.ts';
import { SHUTDOWN, stopRun, type RuntimeBase, type StopReason } from './lifecycle.ts';
import { Recovery } from './recovery.ts';
import { Scheduler, type HandOff } from './scheduler.ts';
import type { ToolRegistry } from './tools.ts';

export interface EngineOptions extends RuntimeBase {
  agents: AgentDirectory;
  tools: ToolRegistry;
  runTimeoutMs: number;
  stepDelayMs: number;
  /** How long streamed text waits after a run's append for more to go with it (APPEND_COALESCE_MS). */
  appendCoalesceMs?: number;
  /** How many of the conversation's latest messages an agent sees (a run costs the same however long it is). */
  historyMessages: number;
  /**
   * How long a run's lease lasts unrenewed (RUN_LEASE_MS). The executing instance renews it every
   * third of that; once it has run out, a surviving instance ends the run with a retryable
   * WORKER_LOST failure. A run whose instance dies thus ends within leaseMs + sweepIntervalMs.
   */
  leaseMs: number;
  /** How often this instance looks for runs whose lease ran out (RUN_SWEEP_INTERVAL_MS). */
  sweepIntervalMs: number;
  /** How long an input request stays open unless its agent says otherwise (INPUT_TIMEOUT_MS). */
  inputTimeoutMs: number;
  /** Who holds this process's leases (default: a fresh id). */
  holder?: string;
  /** How many runs may execute here at once (default: no limit). */
  capacity?: number;
  /**
   * Told when a run has finished here and its conversation's next run finds no slot here (this
   * process is full or stopping), so that another process takes it up at once.
   */
  handOff?: HandOff;
}

export class RunEngine {
  readonly holder: string;
  readonly executor: Executor;
  readonly scheduler: Scheduler;
  private readonly recovery: Recovery;
  private readonly stopListening: () => void;
  private readonly base: RuntimeBase;
  private readonly leaseMs: number;

  constructor(options: EngineOptions) {
    this.base = options;
    this.leaseMs = options.leaseMs;
    this.holder = options.holder ?? randomUUID();
    this.executor = new Executor({
      ...options,
      holder: this.holder,
      stop: (run, reason) => this.stop(run, reason),
      onFinished: (run, runsLeft) => this.scheduler.kick(run.conversationId, { handOff: options.handOff, afterRun: { runsLeft } }),
    });
    this.scheduler = new Scheduler({ ...options, executor: this.executor, holder: this.holder });
    this.recovery = new Recovery({
      ...options,
      executesHere: (runId) => this.executor.has(runId),
      startingHere: (conversationId) => this.scheduler.isStarting(conversationId),
      // No hand-off when there is no slot here: the queued run's lease brings it back to a sweep.
      moveOn: (conversationId) => this.scheduler.kick(conversationId),
      holder: this.holder,
    });
    this.stopListening = options.backend.control.subscribe((message) => {
      if (message.type === 'cancel-run') this.executor.abort(message.runId);
      // A stopping engine has no slot: advancing here then finds the run busy and leaves it.
      if (message.type === 'advance-conversation') this.scheduler.kick(message.conversationId);
    });
  }

  /** Ends an active run (a timeout, a shutdown) and makes its executor let go. */
  stop(run: RunRecord, reason: StopReason): Promise<RunRecord | null> {
    return stopRun(
      this.base,
      {
        abortHere: (runId) => this.executor.abort(runId),
        reschedule: async (stopped) => this.scheduler.kick(stopped.conversationId),
        holder: this.holder,
        leaseMs: this.leaseMs,
      },
      run,
      reason,
    );
  }

  /**
   * Takes no more runs and stops sweeping; lets the runs executing here finish for up to
   * `graceMs` (or until `cutShort` aborts), then ends the rest as retryable failures (SHUTDOWN),
   * and waits for all of it.
   */
  async shutdown(graceMs = 0, cutShort?: AbortSignal): Promise<void> {
    const { backend, logger } = this.base;
    this.executor.close();
    await this.recovery.stop();
    if (graceMs > 0 && !cutShort?.aborted) {
      const cut = new Promise<void>((resolve) => cutShort?.addEventListener('abort', () => resolve(), { once: true }));
      await Promise.race([this.executor.settled(graceMs), cut]);
    }
    await Promise.all(
      this.executor.runIds().map(async (runId) => {
        try {
          const run = await backend.runs.get(runId);
          // Only a run still RUNNING is ours to end. One that ended meanwhile (cancelled, or
          // taken over by a survivor) keeps its end; its executor only has to let go.
          if (run?.status === 'RUNNING') await this.stop(run, { status: 'FAILED', error: SHUTDOWN, by: 'shutdown' });
          else this.executor.abort(runId);
        } catch (cause) {
          // The store is unreachable: stop anyway; the run's lease runs out and a survivor ends it.
          logger.warn({ err: cause, runId }, 'could not record the end of a run at shutdown');
          this.executor.abandon(runId);
        }
      }),
    );
    await this.executor.settled();
    await this.scheduler.idle();
    this.stopListening();
  }
}
