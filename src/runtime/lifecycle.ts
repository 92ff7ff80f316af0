/**
 * What the Runtime's modules share about a run's lifecycle: the events that end it on someone
 * else's behalf, and stopping an active run (cancel, timeout, shutdown), which moves its status
 * at once and leaves the terminal event to whoever executes it (or to its turn in the queue).
 */
import type { Logger } from 'pino';
import { runEvent, type EventBody, type StoredEvent } from '../domain/events.ts';
import type { AgentErrorInfo, TokenUsage, RunRecord, RunStatus } from '../domain/records.ts';
import type { Backend } from '../store/interfaces.ts';

/** What every part of the Runtime works with. */
export interface RuntimeBase {
  backend: Backend;
  logger: Logger;
  /** Told of every status a run enters (for metrics; appended events are counted at the log). */
  onRunStatus?: (status: RunStatus) => void;
  /** Told of every usage a model reports during a run (for metrics). */
  onUsage?: (usage: TokenUsage) => void;
}

/** The reason of a cancel that gave none (every AgentCancelled has one). */
export const CANCELLED_REASON = 'Cancelled.';

export type StopReason = { status: 'CANCELLED'; reason: string } | { status: 'FAILED'; error: AgentErrorInfo };

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
  return base.backend.events.append(runEvent(body, run, agentId));
}

/** How a stop reaches the run, depending on where this process stands. */
export interface StopHooks {
  /** Aborts the run's execution at once when it executes in this process. */
  abortHere(runId: string): void;
  /** Gets the conversation's queue moving after one of its waiting runs ended. */
  reschedule(run: RunRecord): Promise<void>;
}

/**
 * Moves an active run to its stopped state and makes its executor (wherever it is) let go.
 * Returns null when the run's status moved on meanwhile (the caller may look again).
 */
export async function stopRun(base: RuntimeBase, hooks: StopHooks, run: RunRecord, reason: StopReason): Promise<RunRecord | null> {
  const { backend } = base;
  const patch: Partial<RunRecord> =
    reason.status === 'CANCELLED'
      ? { status: 'CANCELLED', cancelReason: reason.reason, finishedAt: new Date().toISOString() }
      : { status: 'FAILED', error: reason.error, finishedAt: new Date().toISOString() };
  const stopped = await backend.runs.transition(run.id, [run.status], patch);
  if (!stopped) return null;
  base.onRunStatus?.(stopped.status);
  if (run.status === 'RUNNING') {
    // Here at once; elsewhere through the control channel (and, should that message be lost,
    // through the executor's own check of the run's status when it renews its lease).
    hooks.abortHere(run.id);
    await backend.control.publish({ type: 'cancel-run', runId: run.id });
  } else {
    await hooks.reschedule(stopped);
  }
  return stopped;
}
