/**
 * Real event logs with a fault put in front: a doorbell that misses notifications, reads that
 * fail while an outage lasts. Followers must deliver every event in order through both.
 */
import type { StoredEvent } from '../../src/domain/events.ts';
import { GatewayError } from '../../src/errors.ts';
import type { EventLog } from '../../src/store/event-log.ts';

/** `log`, but its doorbell rings only for the events `rings` lets through. */
export function lossyDoorbell(log: EventLog, rings: (event: StoredEvent) => boolean): EventLog {
  return {
    append: (event) => log.append(event),
    appendBatch: (events) => log.appendBatch(events),
    read: (...args) => log.read(...args),
    lastSeq: (id) => log.lastSeq(id),
    listen: (id, listener) => log.listen(id, (event, epoch, again) => rings(event) && listener(event, epoch, again)),
  };
}

/** `log` whose reads fail as Redis's do when unreachable, while `outage` is on; counts the failures. */
export class FlakyReads {
  outage = false;
  failedReads = 0;
  readonly log: EventLog;

  constructor(log: EventLog) {
    this.log = {
      append: (event) => log.append(event),
      appendBatch: (events) => log.appendBatch(events),
      lastSeq: (id) => log.lastSeq(id),
      listen: (id, listener) => log.listen(id, listener),
      read: async (...args) => {
        if (this.outage) {
          this.failedReads += 1;
          throw new GatewayError('SERVICE_UNAVAILABLE', 'Redis is unreachable');
        }
        return log.read(...args);
      },
    };
  }
}
