import type { SendStore } from './interfaces.ts';
import { withAppend, type EventLog } from './event-log.ts';
import type { StoredEvent } from '../domain/events.ts';

/** The same log, telling `onAppend` of every event appended through it, whoever appends. */
export function observeAppends(log: EventLog, onAppend: (event: StoredEvent) => void): EventLog {
  return withAppend(log, async (events, leaseEpoch) => {
    const stored = await log.appendBatch(events, leaseEpoch);
    for (const event of stored) onAppend(event);
    return stored;
  });
}

/** The same send store, telling `onAppend` of the MessageCreated event of every send it stores. */
export function observeSends(sends: SendStore, onAppend: (event: StoredEvent) => void): SendStore {
  return {
    async commit(send) {
      const outcome = await sends.commit(send);
      if (outcome.outcome === 'stored') onAppend(outcome.event);
      return outcome;
    },
  };
}
