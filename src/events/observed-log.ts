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
