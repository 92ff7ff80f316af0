import type { StoredEvent } from '../../domain/events.ts';
import { ListenersByKey } from '../listeners-by-key.ts';

type Listener = (event: StoredEvent) => void;

/** The listeners of each conversation in this process, told of every event appended there. */
export class ConversationListeners {
  private readonly listeners = new ListenersByKey<Listener>();

  listen(conversationId: string, listener: Listener): () => void {
    this.listeners.add(conversationId, listener);
    return () => void this.listeners.remove(conversationId, listener);
  }

  deliver(event: StoredEvent): void {
    const listeners = this.listeners.of(event.conversationId);
    for (let index = 0; index < listeners.length; index += 1) {
      try {
        listeners[index]!(event);
      } catch {
        // A listener's failure is its own; the event is durable and the others still hear of it.
      }
    }
  }
}
