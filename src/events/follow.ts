import type { EventLog } from '../store/event-log.ts';
import type { StoredEvent } from '../domain/events.ts';
import { ConversationFollower, type FollowerOptions } from './follower.ts';

export interface FollowOptions extends FollowerOptions {
  signal: AbortSignal;
}

/**
 * The follower (follower.ts) as a stream that a consumer pulls: it is paused after each event
 * until the next pull, so that a consumer behind holds at most `bufferLimit` live events and
 * reads the rest from the log once it catches up. Ends when `signal` aborts; throws what ended
 * the follow.
 */
export async function* followConversation(log: EventLog, conversationId: string, options: FollowOptions): AsyncGenerator<StoredEvent> {
  const { signal } = options;
  let next: StoredEvent | null = null;
  let failure: { error: unknown } | null = null;
  let wake: (() => void) | null = null;
  const ring = () => {
    wake?.();
    wake = null;
  };
  const follower = new ConversationFollower(log, conversationId, options, {
    event(event) {
      next = event;
      follower.pause();
      ring();
    },
    failed(error) {
      failure = { error };
      ring();
    },
  });
  signal.addEventListener('abort', ring, { once: true });
  follower.start();
  try {
    while (!signal.aborted) {
      if (next) {
        const event: StoredEvent = next;
        next = null;
        yield event;
        follower.resume();
        continue;
      }
      if (failure) throw (failure as { error: unknown }).error;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    follower.stop();
    signal.removeEventListener('abort', ring);
  }
}
