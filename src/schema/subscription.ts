import type { StoredEvent } from '../domain/events.ts';
import { PUSH, type PushableEvents } from '../events/event-stream.ts';
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
        description: "Follow one run of the conversation: its events only, completing after its terminal event (at once when that is at or before afterSeq). NOT_FOUND for a run not of this conversation.",
      }),
    },
    subscribe: (_root, args, context) => followEvents(context, args.conversationId, args.afterSeq ?? null, args.runId ?? null),
    resolve: (event) => event,
  }),
}));

/**
 * The subscription's stream, iterated (Server-Sent Events) or pushed (WebSockets, see
 * event-stream.ts). Iterated, it is aborted as soon as the client goes away: an async generator
 * waiting for the next event would otherwise only notice on that event.
 */
async function followEvents(
  context: GraphQLContext,
  conversationId: string,
  afterSeq: number | null,
  runId: string | null,
): Promise<PushableEvents> {
  const viewer = await context.viewer();
  const stream = await context.conversations.follow(viewer, conversationId, afterSeq, runId);
  const { metrics } = context;
  metrics.activeSubscriptions.inc();
  let open = true;
  const controller = new AbortController();
  const close = () => {
    if (!open) return;
    open = false;
    metrics.activeSubscriptions.dec();
    controller.abort();
  };
  let events: AsyncGenerator<StoredEvent> | null = null;
  const iterate = () => (events ??= stream.iterate(controller.signal));
  const iterator: PushableEvents = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      try {
        const result = await iterate().next();
        if (result.done) close();
        else metrics.recordDelivery(result.value);
        return result;
      } catch (error) {
        close();
        throw error;
      }
    },
    async return() {
      close();
      return iterate().return(undefined);
    },
    async throw(error: unknown) {
      close();
      return iterate().throw(error);
    },
    [PUSH](sink) {
      const stop = stream.push({
        event(event) {
          metrics.recordDelivery(event);
          sink.event(event);
        },
        failed(error) {
          close();
          sink.failed(error);
        },
        completed() {
          close();
          sink.completed();
        },
      });
      return () => {
        close();
        stop();
      };
    },
  };
  return iterator;
}
