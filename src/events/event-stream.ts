/**
 * A conversation's events (or one run's), as a subscription consumes them: pulled one at a time
 * (Server-Sent Events), or pushed to a sink as each becomes next in line (WebSockets), where no
 * async step stands between the log's notification and the subscriber.
 */
import type { StoredEvent } from '../domain/events.ts';
import type { EventLog } from '../store/event-log.ts';
import { followConversation } from './follow.ts';
import { followRun, runOverBeforeStart, runStep, type RunFollowOptions } from './follow-run.ts';
import { ConversationFollower, type FollowerOptions } from './follower.ts';

export interface EventSink {
  event(event: StoredEvent): void;
  /** The stream ended with this error; nothing more comes. */
  failed(error: unknown): void;
  /** The stream is over (a followed run ended); nothing more comes. */
  completed(): void;
}

export interface EventStream {
  /** Pulled: the events until `signal` aborts or the stream is over. */
  iterate(signal: AbortSignal): AsyncGenerator<StoredEvent>;
  /** Pushed to `sink`; answers the function that stops the stream. Use one of the two, once. */
  push(sink: EventSink): () => void;
}

export function conversationEvents(
  log: EventLog,
  conversationId: string,
  options: FollowerOptions,
  run: RunFollowOptions | null,
): EventStream {
  return {
    iterate(signal) {
      const events = followConversation(log, conversationId, { ...options, signal });
      return run === null ? events : followRun(events, run);
    },
    push(sink) {
      if (run !== null && runOverBeforeStart(run)) {
        sink.completed();
        return () => undefined;
      }
      const follower = new ConversationFollower(log, conversationId, options, {
        event:
          run === null
            ? (event) => sink.event(event)
            : (event) => {
                const { deliver, last } = runStep(run, event);
                if (deliver) sink.event(event);
                if (!last) return;
                follower.stop();
                sink.completed();
              },
        failed: (error) => sink.failed(error),
      });
      follower.start();
      return () => follower.stop();
    },
  };
}

/**
 * The key under which a subscription's source stream offers itself to be pushed as well as
 * iterated: a transport that finds it skips the async iteration per event.
 */
export const PUSH = Symbol('push');

export interface PushableEvents extends AsyncIterableIterator<StoredEvent> {
  [PUSH](sink: EventSink): () => void;
}

export function isPushable(stream: unknown): stream is PushableEvents {
  return typeof stream === 'object' && stream !== null && PUSH in stream;
}
