import type { StoredEvent } from '../../domain/events.ts';

type Listener = (event: StoredEvent) => void;

/** The listeners of each conversation in this process, told of every event appended there. */
export class ConversationListeners {
  private readonly listeners = new Map<string, Set<Listener>>();

  listen(conversationId: string, listener: Listener): () => void {
    const set = this.listeners.get(conversationId) ?? new Set();
    set.add(listener);
    this.listeners.set(conversationId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(conversationId) === set) this.listeners.delete(conversationId);
    };
  }

  deliver(event: StoredEvent): void {
    for (const listener of this.listeners.get(event.conversationId) ?? []) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the event is durable and the others still hear of it.
      }
    }
  }
}
