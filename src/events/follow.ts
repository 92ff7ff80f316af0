import { setTimeout as delay } from 'node:timers/promises';
import { GatewayError } from '../errors.ts';
import type { EventLog } from '../store/event-log.ts';
import type { StoredEvent } from '../domain/events.ts';

export interface FollowOptions {
  /** Deliver retained events with a greater seq first; null delivers live events only. */
  afterSeq: number | null;
  /** Live events held for a consumer that is behind; past it they are dropped and re-read from the log. */
  bufferLimit: number;
  /** Events read from the log per round trip. */
  pageSize?: number;
  /** After the log could not be reached, how long to wait before trying again without a new notification. */
  retryMs?: number;
  signal: AbortSignal;
}

/**
 * Replays a conversation's log after `afterSeq`, then follows it live: each event exactly once,
 * in seq order. Live notifications are used as-is when they are next in line; on a gap, a
 * missed notification or an overflowing buffer, the missing events are read from the log.
 * Once following, a log that is briefly unreachable (SERVICE_UNAVAILABLE) is read again later
 * rather than ending the subscription; reads that fail otherwise, or before the first event, throw.
 */
export async function* followConversation(
  log: EventLog,
  conversationId: string,
  options: FollowOptions,
): AsyncGenerator<StoredEvent> {
  const pageSize = options.pageSize ?? 200;
  const live: StoredEvent[] = [];
  let needsLogRead = options.afterSeq !== null;
  let highestAnnounced = 0;
  let wake: (() => void) | null = null;
  const ring = () => {
    wake?.();
    wake = null;
  };

  // Listen before deciding where to start, so that nothing appended in between is missed.
  const stopListening = log.listen(conversationId, (event) => {
    highestAnnounced = Math.max(highestAnnounced, event.seq);
    if (live.length < options.bufferLimit) live.push(event);
    else needsLogRead = true;
    ring();
  });
  options.signal.addEventListener('abort', ring, { once: true });

  try {
    let cursor = options.afterSeq ?? (await log.lastSeq(conversationId));
    /** Whether the subscription is established: its replay (if any) has been read once. */
    let following = options.afterSeq === null;
    while (!options.signal.aborted) {
      if (needsLogRead) {
        needsLogRead = false;
        let page: StoredEvent[];
        try {
          page = await log.read(conversationId, cursor, pageSize);
        } catch (error) {
          if (!following || !isUnavailable(error)) throw error;
          needsLogRead = true;
          // Either the log rings again once it is back, or we try again after a pause.
          await Promise.race([
            new Promise<void>((resolve) => {
              wake = resolve;
            }),
            delay(options.retryMs ?? 500, undefined, { signal: options.signal, ref: false }).catch(() => undefined),
          ]);
          continue;
        }
        for (const event of page) {
          if (event.seq !== cursor + 1) continue;
          cursor = event.seq;
          yield event;
        }
        // A full page means there may be more; a notification beyond the page means the same.
        if (page.length === pageSize || highestAnnounced > cursor) needsLogRead = true;
        following = true;
        continue;
      }
      const next = live.shift();
      if (next) {
        if (next.seq <= cursor) continue;
        if (next.seq === cursor + 1) {
          cursor = next.seq;
          yield next;
        } else {
          needsLogRead = true;
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    stopListening();
    options.signal.removeEventListener('abort', ring);
  }
}

const isUnavailable = (error: unknown) => error instanceof GatewayError && error.code === 'SERVICE_UNAVAILABLE';
