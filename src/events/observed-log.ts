import type { SendStore } from '../store/interfaces.ts';
import type { EventLog } from './log.ts';
import type { StoredEvent } from './types.ts';

/** The same log, telling `onAppend` of every event appended through it, whoever appends. */
export function observeAppends(log: EventLog, onAppend: (event: StoredEvent) => void): EventLog {
  return {
    async append(event) {
      const stored = await log.append(event);
      onAppend(stored);
      return stored;
    },
    read: (conversationId, afterSeq, limit) => log.read(conversationId, afterSeq, limit),
    lastSeq: (conversationId) => log.lastSeq(conversationId),
    listen: (conversationId, listener) => log.listen(conversationId, listener),
  };
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
