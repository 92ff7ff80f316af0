/**
 * What the Runtime's modules share about a run's lifecycle: the events that end it on someone
 * else's behalf, and stopping an active run (cancel, timeout, shutdown), which moves its status
 * at once and leaves the terminal event to whoever executes it (or to its turn in the queue).
 */
import type { Logger } from 'pino';
import { runEvent, type EventBody, type StoredEvent } from '../domain/events.ts';
import type { AgentErrorInfo, TokenUsage, RunRecord, RunStatus } from '../domain/records.ts';
import { IDLE_STATUSES } from '../domain/run-states.ts';
import { moveRun } from './run-transitions.ts';
import type { Backend } from '../store/interfaces.ts';

/** What every part of the Runtime works with. */
export interface RuntimeBase {
  backend: Backend;
  logger: Logger;
  /** Told of every status a run enters (for metrics). */
  onRunStatus?: (status: RunStatus) => void;
  /**
   * Told of every batch of events the Runtime appends, as it is stored (for metrics; a send's
   * and an answer's events are counted where they are stored, see runtime-host.ts).
   */
  onAppended?: (events: readonly StoredEvent[]) => void;
  /** Told of every usage a model reports during a run (for metrics). */
  onUsage?: (usage: TokenUsage) => void;
  /** Told of every input request opened, answered (with how long it waited) or expired (for metrics). */
  onInput?: (change: { type: 'opened' | 'expired' } | { type: 'answered'; waitedMs: number }) => void;
}

/** The reason of a cancel that gave none (every AgentCancelled has one). */
export const CANCELLED_REASON = 'Cancelled.';

export type StopReason =
  { status: 'CANCELLED'; reason: string } | { status: 'FAILED'; error: AgentErrorInfo; by: 'executor' | 'timeout' | 'shutdown' | 'expiry' };

export const WORKER_LOST: AgentErrorInfo = {
  code: 'WORKER_LOST',
  message: 'The instance executing the run stopped responding; retry the message.',
  retryable: true,
};

export const LIVE_STATE_LOST: AgentErrorInfo = {
  code: 'LIVE_STATE_LOST',
  message: 'The shared live state (Redis) lost its data while the run was executing; retry the message.',
  retryable: true,
};

export const INPUT_EXPIRED: AgentErrorInfo = {
  code: 'INPUT_EXPIRED',
  message: 'Nobody answered what the agent asked in time.',
  retryable: false,
};

export const SHUTDOWN: AgentErrorInfo = {
  code: 'SHUTDOWN',
  message: 'The server shut down while the run was executing.',
  retryable: true,
};

/** The terminal event of a run that has ended, for whoever appends it on the run's behalf. */
export function terminalOf(run: RunRecord): EventBody {
  if (run.status === 'CANCELLED') return { type: 'AgentCancelled', reason: run.cancelReason ?? CANCELLED_REASON };
  return { type: 'AgentFailed', error: run.error ?? { code: 'INTERNAL', message: 'The run failed.', retryable: true } };
}

/** Appends an event of `run` outside its execution (an empty turn, or an end on its behalf). */
export async function appendRunEvent(base: RuntimeBase, run: RunRecord, agentId: string, body: EventBody): Promise<StoredEvent> {
  const stored = await base.backend.events.append(runEvent(body, run, agentId));
  base.onAppended?.([stored]);
  return stored;
}

/** How a stop reaches the run, depending on where this process stands. */
export interface StopHooks {
  /** Aborts the run's execution at once when it executes in this process. */
  abortHere(runId: string): void;
  /** Gets the conversation's queue moving after one of its waiting runs ended. */
  reschedule(run: RunRecord): Promise<void>;
  /** Who holds the lease a paused run gets when it ends, so that its turn comes even should this process die. */
  holder: string;
  leaseMs: number;
}

/**
 * Moves an active run to its stopped state and makes its executor (wherever it is) let go.
 * Returns null when the run's status moved on meanwhile (the caller may look again).
 */
export async function stopRun(base: RuntimeBase, hooks: StopHooks, run: RunRecord, reason: StopReason): Promise<RunRecord | null> {
  const { backend } = base;
  const finishedAt = new Date().toISOString();
  // Ended while nothing executes it: its terminal event comes in its turn in the queue.
  const endedIdle = IDLE_STATUSES.has(run.status);
  const stopped =
    reason.status === 'CANCELLED'
      ? await moveRun(backend.runs, run.id, 'cancel', 'CANCELLED', { cancelReason: reason.reason, finishedAt, endedIdle }, [run.status])
      : await moveRun(backend.runs, run.id, reason.by, 'FAILED', { error: reason.error, finishedAt, endedIdle }, [run.status]);
  if (!stopped) return null;
  base.onRunStatus?.(stopped.status);
  if (run.status === 'RUNNING') {
    // Here at once; elsewhere through the control channel (and, should that message be lost,
    // through the executor's own check of the run's status when it renews its lease).
    hooks.abortHere(run.id);
    await backend.control.publish({ type: 'cancel-run', runId: run.id });
    return stopped;
  }
  if (run.status === 'WAITING') {
    // A paused run holds no lease: it gets one, so that a sweep brings its turn should we die
    // before handing it on; its requests end with it (an expired one is settled by its caller first).
    await backend.leases.acquire(run.id, run.conversationId, hooks.holder, hooks.leaseMs);
    await backend.inputs.close(run.id, run.conversationId, 'CANCELLED');
  }
  await hooks.reschedule(stopped);
  return stopped;
}
