/**
 * Deleted conversations, as this process's subscriptions learn of them: a deletion through any
 * instance is announced on the control channel, and every live subscription to that
 * conversation ends with NOT_FOUND, as one to a conversation that does not exist would.
 */
import { notFound } from '../errors.ts';
import type { EventSink, EventStream, Stoppable } from '../events/event-stream.ts';
import type { StoredEvent } from '../domain/events.ts';
import type { ControlChannel } from '../store/interfaces.ts';
import { ListenersByKey } from '../store/listeners-by-key.ts';

/** Told that its conversation was deleted. */
interface DeletionWatcher {
  deleted(): void;
}

export class ConversationDeletions {
  private readonly watchers = new ListenersByKey<DeletionWatcher>();

  constructor(control: ControlChannel) {
    control.subscribe((message) => {
      if (message.type !== 'conversation-deleted') return;
      for (const watcher of this.watchers.of(message.conversationId)) watcher.deleted();
    });
  }

  /** `stream`, ending with NOT_FOUND once its conversation is deleted. */
  endingOnDeletion(conversationId: string, stream: EventStream): EventStream {
    return new EndingOnDeletion(this, conversationId, stream);
  }

  /** Calls `watcher` once the conversation is deleted, until `unwatch`. */
  watch(conversationId: string, watcher: DeletionWatcher): void {
    this.watchers.add(conversationId, watcher);
  }

  unwatch(conversationId: string, watcher: DeletionWatcher): void {
    this.watchers.remove(conversationId, watcher);
  }
}

/**
 * Classes rather than closures, as in events/event-stream.ts: an idle subscriber holds one
 * object here, which is at once the sink its stream pushes to and its entry among the watchers.
 */
class EndingOnDeletion implements EventStream {
  constructor(
    private readonly deletions: ConversationDeletions,
    private readonly conversationId: string,
    private readonly stream: EventStream,
  ) {}

  async *iterate(signal: AbortSignal): AsyncGenerator<StoredEvent> {
    const { deletions, conversationId } = this;
    const inner = new AbortController();
    let deleted = false;
    const watcher = {
      deleted() {
        deleted = true;
        inner.abort();
      },
    };
    deletions.watch(conversationId, watcher);
    const stop = () => inner.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      yield* this.stream.iterate(inner.signal);
      if (deleted) throw notFound('Conversation');
    } finally {
      deletions.unwatch(conversationId, watcher);
      signal.removeEventListener('abort', stop);
    }
  }

  push(sink: EventSink): Stoppable {
    const pushed = new PushedUntilDeletion(this.deletions, this.conversationId, sink);
    this.deletions.watch(this.conversationId, pushed);
    pushed.upstream = this.stream.push(pushed);
    return pushed;
  }
}

class PushedUntilDeletion implements EventSink, Stoppable, DeletionWatcher {
  upstream: Stoppable | null = null;

  constructor(
    private readonly deletions: ConversationDeletions,
    private readonly conversationId: string,
    private readonly sink: EventSink,
  ) {}

  event(event: StoredEvent): void {
    this.sink.event(event);
  }

  failed(error: unknown): void {
    this.unwatch();
    this.sink.failed(error);
  }

  completed(): void {
    this.unwatch();
    this.sink.completed();
  }

  stop(): void {
    this.unwatch();
    this.upstream?.stop();
  }

  deleted(): void {
    this.unwatch();
    this.upstream?.stop();
    this.sink.failed(notFound('Conversation'));
  }

  private unwatch(): void {
    this.deletions.unwatch(this.conversationId, this);
  }
}
