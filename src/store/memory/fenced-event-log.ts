import { LeaseLostError, withAppend, type EventLog } from '../event-log.ts';
import type { MemoryEventLog } from './event-log.ts';
import type { MemoryRunLeases } from './leases.ts';

/**
 * The memory log with fenced appends (see `EventLog.append`): the lease check and the append
 * run without yielding in between, so nothing can take the run over between them.
 */
export function fencedLog(log: MemoryEventLog, leases: MemoryRunLeases): EventLog {
  return withAppend(log, async (event, leaseEpoch) => {
    if (leaseEpoch !== undefined && leases.epochSync(event.runId) !== leaseEpoch) throw new LeaseLostError(event.runId);
    return log.appendSync(event);
  });
}
