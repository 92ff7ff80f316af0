/**
 * The input request's state machine, written down once (as run-states.ts is for runs): a request
 * is PENDING until it is answered, expires, or its run ends without it. The stores' scripts take
 * their status lists from here.
 */

export const INPUT_STATUSES = ['PENDING', 'ANSWERED', 'EXPIRED', 'CANCELLED'] as const;
export type InputStatus = (typeof INPUT_STATUSES)[number];

/**
 * Who settles a request: `answer` (respondToAgent, its owner's answer), `expiry` (unanswered for
 * its INPUT_TIMEOUT_MS), `run-ended` (its run was cancelled, interrupted, or ended otherwise).
 */
export type InputActor = 'answer' | 'expiry' | 'run-ended';

export const INPUT_TRANSITIONS: readonly { from: InputStatus; to: InputStatus; by: InputActor }[] = [
  { from: 'PENDING', to: 'ANSWERED', by: 'answer' },
  { from: 'PENDING', to: 'EXPIRED', by: 'expiry' },
  { from: 'PENDING', to: 'CANCELLED', by: 'run-ended' },
];

/** The one status a request can be settled from: a settled request never changes again. */
export const OPEN_INPUT_STATUS: InputStatus = 'PENDING';

/** The status `actor` settles a request in, per the table. */
export function settledBy(actor: InputActor): InputStatus {
  const transition = INPUT_TRANSITIONS.find((t) => t.by === actor);
  if (!transition) throw new Error(`the input state table has no move by ${actor}`);
  return transition.to;
}
