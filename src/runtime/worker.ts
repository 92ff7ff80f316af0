/**
 * A worker: the Runtime's executing side fed by the intent queue. While it has a free slot it
 * claims intents (new ones, and ones a dead worker claimed and never acknowledged), advances each
 * intent's conversation (which starts its head run here when it is queued), and acknowledges the
 * intent. It sweeps expired leases like any executing process, so that a run whose worker died
 * ends as WORKER_LOST and its conversation moves on. When a run ends here and the conversation's
 * next run finds no slot (full, or stopping), it appends a fresh intent for another worker.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../errors.ts';
import type { ClaimedIntent, IntentQueue } from '../store/interfaces.ts';
import { RunEngine, type EngineOptions } from './engine.ts';

export interface RuntimeWorkerOptions extends Omit<EngineOptions, 'capacity' | 'handOff'> {
  queue: IntentQueue;
  /** How many runs execute here at once. */
  concurrency: number;
  /** How long one claim waits for new intents: a stop is noticed within it (default 1 s). */
  claimBlockMs?: number;
}

/** How long to wait before claiming again after the queue failed (Redis away, say). */
const RETRY_DELAY_MS = 500;

export class RuntimeWorker {
  readonly engine: RunEngine;
  private readonly leaseMs: number;
  private readonly sweepIntervalMs: number;
  private loop: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly stopped: Promise<void>;
  private markStopped: () => void = () => undefined;

  constructor(private readonly options: RuntimeWorkerOptions) {
    this.leaseMs = options.leaseMs;
    this.sweepIntervalMs = options.sweepIntervalMs;
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
    this.engine = new RunEngine({
      ...options,
      capacity: options.concurrency,
      handOff: (intent) => this.handOff(intent),
    });
  }

  /** Also the name of this worker's consumer in the queue's group, and the holder of its leases. */
  get id(): string {
    return this.engine.holder;
  }

  /** Runs executing here now. */
  get executing(): number {
    return this.engine.executor.size;
  }

  get isStopping(): boolean {
    return this.stopping !== null;
  }

  start(): void {
    this.loop ??= this.claimLoop();
  }

  /**
   * Graceful stop: claims nothing more, lets the runs executing here finish for up to `graceMs`
   * (or until `cutShort` aborts), ends the rest as retryable failures (SHUTDOWN), and hands the
   * conversations' next runs to other workers. Resolves once all of that is done.
   */
  stop(graceMs: number, cutShort?: AbortSignal): Promise<void> {
    this.stopping ??= (async () => {
      this.engine.executor.close();
      this.markStopped();
      await this.loop;
      await this.engine.shutdown(graceMs, cutShort);
      await this.options.queue
        .retire(this.id)
        .catch((error: unknown) => this.options.logger.debug({ err: error }, 'could not remove this worker from the intent queue group'));
    })();
    return this.stopping;
  }

  private async claimLoop(): Promise<void> {
    const { queue, logger } = this.options;
    const { executor } = this.engine;
    let lastReclaim = 0;
    while (this.stopping === null) {
      const free = executor.free;
      if (free === 0) {
        await Promise.race([executor.whenChanged(), this.stopped]);
        continue;
      }
      try {
        let claimed: ClaimedIntent[] = [];
        if (Date.now() - lastReclaim >= this.sweepIntervalMs) {
          lastReclaim = Date.now();
          // Intents of a worker that died between claiming and acknowledging them.
          claimed = await queue.reclaimIdle(this.id, this.leaseMs, free);
        }
        if (claimed.length === 0) claimed = await queue.claim(this.id, free, this.options.claimBlockMs ?? 1000);
        await Promise.all(claimed.map((intent) => this.handle(intent)));
      } catch (error) {
        // Redis being away is logged where the connection notices it; anything else is news.
        const away = error instanceof GatewayError && error.code === 'SERVICE_UNAVAILABLE';
        logger[away ? 'debug' : 'warn']({ err: error }, 'claiming run intents failed; retrying');
        await Promise.race([sleep(RETRY_DELAY_MS), this.stopped]);
      }
    }
  }

  /**
   * Acts on one intent: advancing its conversation starts its head run here if it is queued and
   * a slot is free; a queued head that finds none (this worker filled up, or is stopping) is
   * handed on in a fresh intent. Anything else (the run executes elsewhere, waits behind another
   * whose executor will advance the queue, or has ended) is not this worker's business. Then
   * the intent is acknowledged; should any of this fail, it stays pending and is claimed again
   * once idle for a lease's length.
   */
  private async handle(intent: ClaimedIntent): Promise<void> {
    const { queue, logger } = this.options;
    try {
      const advanced = await this.engine.scheduler.advance(intent.conversationId);
      if (advanced.outcome === 'busy') await this.handOff({ runId: advanced.runId, conversationId: intent.conversationId });
      await queue.ack(intent.entryId);
    } catch (error) {
      logger.warn({ err: error, runId: intent.runId, conversationId: intent.conversationId }, 'acting on a run intent failed; it is retried');
    }
  }

  private async handOff(intent: { runId: string; conversationId: string }): Promise<void> {
    await this.options.queue.append(intent);
  }
}
