/**
 * A conversation's events (or one run's), as a subscription consumes them: pulled one at a time
 * (Server-Sent Events), or pushed to a sink as each becomes next in line (WebSockets), where no
 * async step stands between the log's notification and the subscriber.
 */
import type { StoredEvent } from '../domain/events.ts';
import type { EventLog } from '../store/event-log.ts';
import { followConversation } from './follow.ts';
import { followRun, runOverBeforeStart, runStep, type RunFollowOptions } from './follow-run.ts';
import { ConversationFollower, type FollowerOptions, type FollowerSink } from './follower.ts';

export interface EventSink {
  event(event: StoredEvent): void;
  /** The stream ended with this error; nothing more comes. */
  failed(error: unknown): void;
  /** The stream is over (a followed run ended); nothing more comes. */
  completed(): void;
}

export interface Stoppable {
  stop(): void;
}

export interface EventStream {
  /** Pulled: the events until `signal` aborts or the stream is over. */
  iterate(signal: AbortSignal): AsyncGenerator<StoredEvent>;
  /** Pushed to `sink` until stopped. Use one of the two, once. */
  push(sink: EventSink): Stoppable;
}

export function conversationEvents(log: EventLog, conversationId: string, options: FollowerOptions, run: RunFollowOptions | null): EventStream {
  return new ConversationEvents(log, conversationId, options, run);
}

/**
 * Classes rather than closures here and in what a pushed subscription holds: an idle subscriber
 * holds one object per layer, not a context and functions for each.
 */
class ConversationEvents implements EventStream {
  constructor(
    private readonly log: EventLog,
    private readonly conversationId: string,
    private readonly options: FollowerOptions,
    private readonly run: RunFollowOptions | null,
  ) {}

  iterate(signal: AbortSignal): AsyncGenerator<StoredEvent> {
    const events = followConversation(this.log, this.conversationId, { ...this.options, signal });
    return this.run === null ? events : followRun(events, this.run);
  }

  push(sink: EventSink): Stoppable {
    const { run } = this;
    if (run === null) return this.follow(sink);
    if (runOverBeforeStart(run)) {
      sink.completed();
      return STOPPED;
    }
    const filter = new RunFilter(run, sink);
    filter.follower = this.follow(filter);
    return filter.follower;
  }

  private follow(sink: FollowerSink): ConversationFollower {
    const follower = new ConversationFollower(this.log, this.conversationId, this.options, sink);
    follower.start();
    return follower;
  }
}

/** One run's events out of the conversation's, completing after the run's last. */
class RunFilter implements FollowerSink {
  follower: ConversationFollower | null = null;

  constructor(
    private readonly run: RunFollowOptions,
    private readonly sink: EventSink,
  ) {}

  event(event: StoredEvent): void {
    const { deliver, last } = runStep(this.run, event);
    if (deliver) this.sink.event(event);
    if (!last) return;
    this.follower?.stop();
    this.sink.completed();
  }

  failed(error: unknown): void {
    this.sink.failed(error);
  }
}

const STOPPED: Stoppable = { stop: () => undefined };

/**
 * The key under which a subscription's source stream offers itself to be pushed as well as
 * iterated: a transport that finds it skips the async iteration per event.
 */
export const PUSH = Symbol('push');

export interface PushableEvents extends AsyncIterableIterator<StoredEvent> {
  /** The conversation whose events these are (subscribers of the same one may share their results). */
  readonly conversationId: string;
  [PUSH](sink: EventSink): Stoppable;
}

export function isPushable(stream: unknown): stream is PushableEvents {
  return typeof stream === 'object' && stream !== null && PUSH in stream;
}
