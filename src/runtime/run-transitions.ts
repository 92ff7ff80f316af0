/**
 * Moving a run from one status to another, only as the state table (domain/run-states.ts)
 * allows: the caller says who it is and where the run goes; the table says from where.
 */
import { allowedFrom, type RunActor } from '../domain/run-states.ts';
import type { RunRecord, RunStatus } from '../domain/records.ts';
import type { RunStore } from '../store/interfaces.ts';

/**
 * Moves the run to `to` on behalf of `actor` when its status is one the table allows for that
 * (narrowed to `onlyFrom` when given), applying `patch`. Null when the status had moved on.
 */
export function moveRun(
  runs: RunStore,
  runId: string,
  actor: RunActor,
  to: RunStatus,
  patch: Partial<RunRecord> = {},
  onlyFrom?: readonly RunStatus[],
): Promise<RunRecord | null> {
  const permitted = allowedFrom(actor, to);
  const from = onlyFrom ? onlyFrom.filter((status) => permitted.includes(status)) : permitted;
  if (from.length === 0) throw new Error(`the run state table has no move to ${to} by ${actor} from ${onlyFrom?.join(', ') ?? 'anywhere'}`);
  return runs.transition(runId, from, { ...patch, status: to });
}
