import type { StoredEvent } from '../domain/events.ts';
import { PUSH, type EventSink, type EventStream, type PushableEvents, type Stoppable } from '../events/event-stream.ts';
import { countedStream } from '../events/counted-stream.ts';
import { builder, type GraphQLContext } from './builder.ts';
import { AgentEventRef } from './events.ts';

builder.subscriptionFields((t) => ({
  agentEvents: t.field({
    type: AgentEventRef,
    description:
      "A conversation's events: with afterSeq, every retained event after it first, then live ones, each exactly once and in seq order; without it, live events only. With runId, only that run's events, and the subscription completes after its terminal event.",
    args: {
      conversationId: t.arg.id({ required: true }),
      afterSeq: t.arg.int(),
      runId: t.arg.id({
        description:
          'Follow one run of the conversation: its events only, completing after its terminal event (at once when that is at or before afterSeq). NOT_FOUND for a run not of this conversation.',
      }),
    },
    subscribe: (_root, args, context) => followEvents(context, args.conversationId, args.afterSeq ?? null, args.runId ?? null),
    resolve: (event) => event,
  }),
}));

/**
 * The subscription's stream, iterated (Server-Sent Events) or pushed (WebSockets, see
 * event-stream.ts), counted in the metrics (events/counted-stream.ts).
 */
async function followEvents(context: GraphQLContext, conversationId: string, afterSeq: number | null, runId: string | null): Promise<PushableEvents> {
  const viewer = await context.viewer();
  const stream = await context.conversations.follow(viewer, conversationId, afterSeq, runId);
  return new FollowedEvents(conversationId, countedStream(stream, context.metrics, GRAPHQL_PROTOCOL));
}

/** The label of GraphQL's subscriptions in the metrics, beside the other protocols'. */
const GRAPHQL_PROTOCOL = 'graphql';

class FollowedEvents implements PushableEvents {
  /** Iterated only: aborted as soon as the client goes away, since a generator waiting for the next event would only notice on that event. */
  private controller: AbortController | null = null;
  private events: AsyncGenerator<StoredEvent> | null = null;

  constructor(
    readonly conversationId: string,
    private readonly stream: EventStream,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<StoredEvent>> {
    try {
      const result = await this.iterate().next();
      if (result.done) this.abort();
      return result;
    } catch (error) {
      this.abort();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<StoredEvent>> {
    this.abort();
    return this.iterate().return(undefined);
  }

  async throw(error: unknown): Promise<IteratorResult<StoredEvent>> {
    this.abort();
    return this.iterate().throw(error);
  }

  [PUSH](sink: EventSink): Stoppable {
    return this.stream.push(sink);
  }

  private iterate(): AsyncGenerator<StoredEvent> {
    if (!this.events) {
      this.controller = new AbortController();
      this.events = this.stream.iterate(this.controller.signal);
    }
    return this.events;
  }

  private abort(): void {
    this.controller?.abort();
  }
}
