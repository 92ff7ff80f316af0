/**
 * Where the runs a gateway accepts execute: here (local dispatch, the embedded default and the
 * only one for the memory backend) or on worker processes, through the durable intent queue
 * (the gateway then stores and queues runs but never advances or executes them; it still sweeps
 * expired leases, so that the runs of a worker that died end even when no worker is up).
 */
import { GatewayError } from '../errors.ts';
import type { IntentQueue } from '../store/interfaces.ts';
import type { RunRecord } from '../domain/records.ts';
import type { RunEngine } from './engine.ts';
import { Recovery, type RecoveryOptions } from './recovery.ts';

export interface RunDispatch {
  /** Gets a run's conversation moving: after the run was stored and queued, or after one of its waiting runs ended. */
  dispatch(run: Pick<RunRecord, 'id' | 'conversationId'>): Promise<void>;
  /** Refuses a new run (RATE_LIMITED) while too many wait to be executed; resolves otherwise. */
  admit(): Promise<void>;
  /** Aborts the run's execution at once when it executes in this process. */
  abortHere(runId: string): void;
  /**
   * Ends what executes here per the contract, after letting it finish for up to `graceMs` (or
   * until `cutShort` aborts).
   */
  shutdown(graceMs: number, cutShort?: AbortSignal): Promise<void>;
}

/** The gateway advances its conversations' queues and executes their runs itself. */
export class LocalDispatch implements RunDispatch {
  constructor(private readonly engine: RunEngine) {}

  async dispatch(run: Pick<RunRecord, 'id' | 'conversationId'>) {
    this.engine.scheduler.kick(run.conversationId);
  }

  async admit() {}

  abortHere(runId: string) {
    this.engine.executor.abort(runId);
  }

  shutdown(graceMs: number, cutShort?: AbortSignal) {
    return this.engine.shutdown(graceMs, cutShort);
  }
}

export interface IntentQueueDispatchOptions extends Omit<RecoveryOptions, 'executesHere' | 'startingHere' | 'moveOn'> {
  queue: IntentQueue;
  /** Outstanding intents at which new runs are refused. */
  maxQueuedRuns: number;
}

/**
 * The gateway hands runs to workers: one intent per run (and per change a queue needs a worker
 * for). Its lease sweep settles what no live process vouches for and hands each conversation
 * it moved on to the workers; a queued run thus still waits for a worker, as it would anyway.
 */
export class IntentQueueDispatch implements RunDispatch {
  private readonly recovery: Recovery;

  constructor(private readonly options: IntentQueueDispatchOptions) {
    this.recovery = new Recovery({
      ...options,
      // A gateway that hands runs to workers executes and starts none itself.
      executesHere: () => false,
      startingHere: () => false,
      moveOn: (conversationId, runId) => void this.dispatch({ id: runId, conversationId }),
    });
  }

  async dispatch(run: Pick<RunRecord, 'id' | 'conversationId'>) {
    try {
      await this.options.queue.append({ runId: run.id, conversationId: run.conversationId });
    } catch (error) {
      // The run is stored, queued and leased: when its lease runs out a worker's sweep finds it
      // and starts it (at once, should the client retry the send). Late, but not lost; the send
      // itself succeeded.
      this.options.logger.warn({ err: error, runId: run.id }, 'could not queue the intent of a run; a worker takes it up once its lease runs out');
    }
  }

  async admit() {
    const outstanding = await this.options.queue.outstanding();
    if (outstanding >= this.options.maxQueuedRuns) {
      throw new GatewayError('RATE_LIMITED', `${outstanding} runs are waiting for a worker; retry shortly.`, { retryAfterMs: 1000 });
    }
  }

  abortHere() {}

  shutdown() {
    return this.recovery.stop();
  }
}
