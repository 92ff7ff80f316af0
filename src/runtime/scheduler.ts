/**
 * Moves a conversation's run queue on, under the conversation's lock: runs that ended while they
 * waited take their (empty) turn, and the head run starts here when it is queued and this process
 * has a slot for it. Where the backend can start the head in one atomic step while nobody holds
 * the lock (Backend.startHead: one Redis), it does that first, the lock's steps only when it did
 * not. Whoever executes a run advances its queue again when the run is over.
 */
import { TERMINAL_STATUSES } from '../domain/run-states.ts';
import type { RunRecord } from '../domain/records.ts';
import { runQueueLock, type HeadStart, type StartedHead } from '../store/interfaces.ts';
import type { Executor } from './executor.ts';
import { appendRunEvent, terminalOf, type RuntimeBase } from './lifecycle.ts';
import { readReplay } from './replay.ts';
import { moveRun } from './run-transitions.ts';

/**
 * Whether a run that has ended gets its terminal event in its turn in the queue: it ended while
 * nothing executed it (before it started, or while it waited for a person).
 */
export function endsInItsTurn(run: RunRecord): boolean {
  return TERMINAL_STATUSES.has(run.status) && (run.startedAt === null || run.endedIdle === true);
}

export interface SchedulerOptions extends RuntimeBase {
  executor: Executor;
  /** Who holds the leases of the runs started here. */
  holder: string;
  leaseMs: number;
}

/**
 * What advancing found: the head run `started` here; it is queued but there is no slot for it
 * here (`busy`); it is executing (here or elsewhere) or finishing (`waiting`); or the queue is
 * `empty`.
 */
export type Advance = { outcome: 'started' | 'busy' | 'waiting'; runId: string } | { outcome: 'empty' };

/** That a run of the conversation has just ended, and whether runs were left in its queue when it left it (undefined: not known). */
export interface AfterRun {
  runsLeft: boolean | undefined;
}

/** Told of a head run that could not start here, so that someone else takes it up. */
export type HandOff = (intent: { runId: string; conversationId: string }) => Promise<void>;

export class Scheduler {
  private readonly inFlight = new Set<Promise<void>>();
  /** Per conversation, how many starts in one step are under way here (see `isStarting`). */
  private readonly starting = new Map<string, number>();

  constructor(private readonly options: SchedulerOptions) {}

  /**
   * Starts the conversation's next run here when none is executing and a slot is free. After a
   * run ended (`afterRun`) its queue is most often empty: whether runs were left in it when the
   * run left it (`runsLeft`, else one look without the lock) settles that, since whoever queues
   * a run advances the queue afterwards (a queue found empty here before a run went in is moved
   * on by whoever put it in).
   */
  async advance(conversationId: string, { afterRun }: { afterRun?: AfterRun } = {}): Promise<Advance> {
    const { backend, executor, holder, leaseMs } = this.options;
    if (afterRun && !(afterRun.runsLeft ?? (await backend.runQueue.head(conversationId)) !== null)) return { outcome: 'empty' };
    const startedAtOnce = await this.startHeadAtOnce(conversationId);
    if (startedAtOnce) return startedAtOnce;
    return backend.locks.withLock(runQueueLock(conversationId), async (): Promise<Advance> => {
      for (;;) {
        const first = await backend.runQueue.head(conversationId);
        if (first === null) return { outcome: 'empty' };
        const head = first.run;
        if (!head) {
          await backend.runQueue.remove(conversationId, first.runId);
          continue;
        }
        if (head.status === 'QUEUED') {
          if (!executor.reserve()) return { outcome: 'busy', runId: head.id };
          let started = null;
          let leaseEpoch: number;
          try {
            // Ours from now: renewed while it executes here, taken over by a survivor if we die.
            leaseEpoch = await backend.leases.acquire(head.id, conversationId, holder, leaseMs);
            // A resumed run keeps when it first started.
            started = await moveRun(backend.runs, head.id, 'scheduler', 'RUNNING', { startedAt: head.startedAt ?? new Date().toISOString() });
          } finally {
            if (!started) executor.unreserve();
          }
          if (!started) continue; // cancelled meanwhile: look at it again
          return this.execute({ run: started, leaseEpoch, resumed: head.startedAt !== null });
        }
        if (endsInItsTurn(head)) {
          // Ended while it waited in the queue (cancelled, or failed by recovery): it takes its
          // turn as an empty run, so that every run has its AgentStarted and terminal event and no
          // two runs' events ever interleave. One that ended while it waited for a person has its
          // AgentStarted: its requests close and its terminal event follows.
          if (head.startedAt === null) await appendRunEvent(this.options, head, head.agentId, { type: 'AgentStarted' });
          else await this.closeWhatWaited(head);
          await appendRunEvent(this.options, head, head.agentId, terminalOf(head));
          await backend.runQueue.remove(conversationId, head.id);
          await backend.leases.release(head.id, null);
          continue;
        }
        // Executing (its executor advances the queue when done), or waiting for a person (an
        // answer resumes it; the runs behind it wait).
        return { outcome: 'waiting', runId: head.id };
      }
    });
  }

  /**
   * Advances in one step where the backend can (see Backend.startHead) and this process has a
   * slot: the head run started here, or what the long way would have found under the lock that
   * nobody held (an empty queue, a head executing or waiting for a person). Null when the long
   * way must go on: the queue was locked, or its head ended while it waited (or is gone) and
   * takes its turn under the lock.
   */
  private async startHeadAtOnce(conversationId: string): Promise<Advance | null> {
    const { backend, executor, holder, leaseMs } = this.options;
    if (!backend.startHead || !executor.reserve()) return null;
    this.starting.set(conversationId, (this.starting.get(conversationId) ?? 0) + 1);
    let result: HeadStart | undefined;
    try {
      result = await backend.startHead(conversationId, holder, leaseMs, new Date().toISOString(), executor.historyMessages);
      if (result.outcome === 'started') return this.execute(result.started);
    } finally {
      if (result?.outcome !== 'started') executor.unreserve();
      const left = this.starting.get(conversationId)! - 1;
      if (left === 0) this.starting.delete(conversationId);
      else this.starting.set(conversationId, left);
    }
    if (result.outcome === 'locked') return null;
    const { head } = result;
    if (head === null) return { outcome: 'empty' };
    if (head.run && head.run.status !== 'QUEUED' && !endsInItsTurn(head.run)) return { outcome: 'waiting', runId: head.runId };
    return null;
  }

  /**
   * Whether a start in one step of the conversation's head is under way here, from before its
   * script is sent until the run it started is executing here. The script takes no lock; a sweep
   * that holds the queue's lock meanwhile must not take such a run for one whose process died
   * (see Recovery).
   */
  isStarting(conversationId: string): boolean {
    return this.starting.has(conversationId);
  }

  /** Executes a run just started here, in the slot reserved for it. */
  private execute({ run, leaseEpoch, resumed, opened }: StartedHead): Advance {
    this.options.onRunStatus?.('RUNNING');
    this.options.executor.start(run, leaseEpoch, resumed, opened);
    return { outcome: 'started', runId: run.id };
  }

  /** A run that ended while it waited for a person: its requests close, and tool calls reported before its pause end with it. */
  private async closeWhatWaited(run: RunRecord): Promise<void> {
    await this.options.backend.inputs.close(run.id, run.conversationId, 'CANCELLED');
    for (const call of (await readReplay(this.options.backend, run)).openCalls()) {
      await appendRunEvent(this.options, run, call.agentId ?? run.agentId, {
        type: 'ToolCompleted',
        toolCallId: call.toolCallId,
        toolName: call.toolName,
        result: null,
        error: { code: 'CANCELLED', message: 'The run ended before the tool finished.', retryable: true },
        durationMs: 0,
      });
    }
  }

  /**
   * Advances in the background, logging failures (a queue that stays stuck is moved on by the
   * lease sweep). With `handOff`, a head run that finds no slot here is handed to someone else.
   */
  kick(conversationId: string, { handOff, afterRun }: { handOff?: HandOff; afterRun?: AfterRun } = {}): void {
    const advancing = this.advance(conversationId, { afterRun })
      .then(async (advanced) => {
        if (advanced.outcome === 'busy' && handOff) await handOff({ runId: advanced.runId, conversationId });
      })
      .catch((error: unknown) => this.options.logger.error({ err: error, conversationId }, 'advancing the run queue failed'))
      .finally(() => this.inFlight.delete(advancing));
    this.inFlight.add(advancing);
  }

  /** Resolves once no background advance is under way. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }
}
