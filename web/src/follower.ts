/**
 * Follows one conversation's events and never loses one: it subscribes with `afterSeq` set to
 * the last `seq` it has handled, so when the WebSocket drops it stops, and when the socket is
 * back it subscribes again from where it was. The server replays what was missed, then goes on
 * live; anything at or below the last seq (a duplicate) is dropped.
 */
import type { Client } from '@urql/core';
import type { AgentEventsSubscription } from './gql/graphql.ts';
import { AgentEvents } from './operations.ts';

export type AgentEvent = AgentEventsSubscription['agentEvents'];

export interface FollowerHandlers {
  event(event: AgentEvent): void;
  /** The server no longer holds the events after `afterSeq` (EVENTS_EXPIRED): reload history. */
  expired(): void;
  error(message: string): void;
}

export class EventFollower {
  private subscription: { unsubscribe(): void } | null = null;
  private stopped = false;

  constructor(
    private readonly client: Client,
    readonly conversationId: string,
    /** The last seq handled: events after it are wanted. */
    private lastSeq: number,
    private readonly handlers: FollowerHandlers,
  ) {}

  get afterSeq(): number {
    return this.lastSeq;
  }

  /** Subscribes from the last seq handled, unless already subscribed. */
  start(): void {
    if (this.subscription || this.stopped) return;
    const variables = { conversationId: this.conversationId, afterSeq: this.lastSeq };
    this.subscription = this.client.subscription(AgentEvents, variables).subscribe((result) => {
      if (this.stopped) return;
      if (result.error) {
        this.subscription?.unsubscribe();
        this.subscription = null;
        const codes = result.error.graphQLErrors.map((error) => error.extensions?.['code']);
        if (codes.includes('EVENTS_EXPIRED')) this.handlers.expired();
        else this.handlers.error(result.error.message.replace(/^\[\w+\]\s*/, ''));
        return;
      }
      const event = result.data?.agentEvents;
      if (!event || event.seq <= this.lastSeq) return;
      this.lastSeq = event.seq;
      this.handlers.event(event);
    });
  }

  /** The socket dropped: stop, so that the next start resumes from the last seq handled. */
  pause(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  stop(): void {
    this.stopped = true;
    this.pause();
  }
}
