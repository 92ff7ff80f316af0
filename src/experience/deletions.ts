/**
 * Deleted conversations, as this process's subscriptions learn of them: a deletion through any
 * instance is announced on the control channel, and every live subscription to that
 * conversation ends with NOT_FOUND, as one to a conversation that does not exist would.
 */
import { notFound } from '../errors.ts';
import type { EventSink, EventStream, Stoppable } from '../events/event-stream.ts';
import type { StoredEvent } from '../domain/events.ts';
import type { ControlChannel } from '../store/interfaces.ts';

export class ConversationDeletions {
  private readonly watchers = new Map<string, Set<() => void>>();

  constructor(control: ControlChannel) {
    control.subscribe((message) => {
      if (message.type !== 'conversation-deleted') return;
      for (const onDeleted of this.watchers.get(message.conversationId) ?? []) onDeleted();
    });
  }

  /** `stream`, ending with NOT_FOUND once its conversation is deleted. */
  endingOnDeletion(conversationId: string, stream: EventStream): EventStream {
    const watch = (onDeleted: () => void) => this.watch(conversationId, onDeleted);
    return {
      async *iterate(signal) {
        const inner = new AbortController();
        let deleted = false;
        const unwatch = watch(() => {
          deleted = true;
          inner.abort();
        });
        const stop = () => inner.abort();
        signal.addEventListener('abort', stop, { once: true });
        try {
          yield* stream.iterate(inner.signal);
          if (deleted) throw notFound('Conversation');
        } finally {
          unwatch();
          signal.removeEventListener('abort', stop);
        }
      },
      push(sink: EventSink): Stoppable {
        const unwatch = watch(() => {
          pushed.stop();
          sink.failed(notFound('Conversation'));
        });
        const pushed = stream.push({
          event: (event: StoredEvent) => sink.event(event),
          failed: (error) => {
            unwatch();
            sink.failed(error);
          },
          completed: () => {
            unwatch();
            sink.completed();
          },
        });
        return {
          stop() {
            unwatch();
            pushed.stop();
          },
        };
      },
    };
  }

  private watch(conversationId: string, onDeleted: () => void): () => void {
    const set = this.watchers.get(conversationId) ?? new Set();
    this.watchers.set(conversationId, set.add(onDeleted));
    return () => {
      set.delete(onDeleted);
      if (set.size === 0 && this.watchers.get(conversationId) === set) this.watchers.delete(conversationId);
    };
  }
}
