import { LeaseLostError, withAppend, type EventLog } from '../event-log.ts';
import type { MemoryEventLog } from './event-log.ts';
import type { MemoryRunLeases } from './leases.ts';

/**
 * The memory log with fenced appends (see `EventLog.append`): the lease check and the append
 * run without yielding in between, so nothing can take the run over between them.
 */
export function fencedLog(log: MemoryEventLog, leases: MemoryRunLeases): EventLog {
  return withAppend(log, async (events, leaseEpoch) => {
    const refused = leaseEpoch === undefined ? undefined : events.find((event) => leases.epochSync(event.runId) !== leaseEpoch);
    if (refused) throw new LeaseLostError(refused.runId);
    return events.map((event) => log.appendSync(event));
  });
}
