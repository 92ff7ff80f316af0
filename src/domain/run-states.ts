/**
 * The run's state machine, written down once: every status a run can have, every move between
 * two of them, and who may make it. The Runtime moves runs only through `allowedFrom` (see
 * runtime/run-transitions.ts), the Redis scripts take their status lists from here, and the
 * tests read the same table.
 */

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * Who moves a run:
 * - `scheduler`: starts the head run of a conversation's queue (also a resumed one);
 * - `executor`: the process executing the run ends it, or pauses it on a person;
 * - `cancel`: cancelAgentRun, an INTERRUPT, or deleting the conversation;
 * - `timeout`: RUN_TIMEOUT_MS ran out while it executed;
 * - `shutdown`: the executing process stops and ends what it still executes;
 * - `sweep`: the lease sweep, for a run whose process died;
 * - `answer`: respondToAgent (or the executor finding every answer already there) resumes it;
 * - `expiry`: one of its input requests went unanswered for INPUT_TIMEOUT_MS.
 */
export const RUN_ACTORS = ['scheduler', 'executor', 'cancel', 'timeout', 'shutdown', 'sweep', 'answer', 'expiry'] as const;
export type RunActor = (typeof RUN_ACTORS)[number];

export interface RunTransition {
  from: RunStatus;
  to: RunStatus;
  by: readonly RunActor[];
  why: string;
}

export const RUN_TRANSITIONS: readonly RunTransition[] = [
  { from: 'QUEUED', to: 'RUNNING', by: ['scheduler'], why: 'its turn came and a process had a slot for it' },
  { from: 'QUEUED', to: 'CANCELLED', by: ['cancel'], why: 'cancelled before it (re)started' },
  { from: 'QUEUED', to: 'FAILED', by: ['sweep'], why: 'its sender died before queueing it' },
  { from: 'RUNNING', to: 'COMPLETED', by: ['executor'], why: 'its agent finished' },
  {
    from: 'RUNNING',
    to: 'FAILED',
    by: ['executor', 'timeout', 'shutdown', 'sweep'],
    why: 'its agent failed, it ran out of time, or its process stopped or died',
  },
  { from: 'RUNNING', to: 'CANCELLED', by: ['cancel'], why: 'cancelled while it executed' },
  { from: 'RUNNING', to: 'WAITING', by: ['executor'], why: 'its agent asked a person and let go of its process' },
  { from: 'WAITING', to: 'QUEUED', by: ['answer'], why: 'every request it waited for is answered: it resumes when its turn comes' },
  { from: 'WAITING', to: 'CANCELLED', by: ['cancel'], why: 'cancelled while it waited (its requests are cancelled)' },
  { from: 'WAITING', to: 'FAILED', by: ['expiry'], why: 'a request went unanswered for too long (INPUT_EXPIRED)' },
  { from: 'COMPLETED', to: 'FAILED', by: ['sweep'], why: 'its process died between deciding and announcing the outcome' },
];

/** Statuses a run ends in: it has had (or is about to get) its terminal event. */
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** Statuses of a run still to end: it holds its conversation's queue (the head) or waits in it. */
export const ACTIVE_STATUSES: readonly RunStatus[] = RUN_STATUSES.filter((status) => !TERMINAL_STATUSES.has(status));

/** Statuses of a run someone must vouch for with a lease: a waiting run holds none (nothing executes it or waits to start it). */
export const LEASED_STATUSES: readonly RunStatus[] = ACTIVE_STATUSES.filter((status) => status !== 'WAITING');

/**
 * Statuses in which no process executes the run: ended from one of them, its terminal event is
 * appended in its turn in the queue, not by an executor.
 */
export const IDLE_STATUSES: ReadonlySet<RunStatus> = new Set(['QUEUED', 'WAITING']);

/**
 * Statuses in which a run's input request may be answered: it waits, or it is about to (its
 * agent asked, and its executor has not paused it yet).
 */
export const ANSWERABLE_STATUSES: readonly RunStatus[] = ['RUNNING', ...RUN_TRANSITIONS.filter((t) => t.by.includes('answer')).map((t) => t.from)];

/** The statuses from which `actor` may move a run to `to`, per the table. */
export function allowedFrom(actor: RunActor, to: RunStatus): RunStatus[] {
  return RUN_TRANSITIONS.filter((t) => t.to === to && t.by.includes(actor)).map((t) => t.from);
}
