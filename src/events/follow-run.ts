/**
 * One run out of a conversation's stream: its events only, ending after its terminal event, so
 * that a script or a server-to-server caller is done when the run is.
 */
import { TERMINAL_EVENT_TYPES, type StoredEvent } from '../domain/events.ts';

export interface RunFollowOptions {
  runId: string;
  /** Where the stream starts (null: live events only), as given to the conversation's follower. */
  afterSeq: number | null;
  /**
   * Null while the run's terminal event is still to come; once it is in the log, a seq at or
   * after it (the conversation's lastSeq), so that a stream starting past it ends instead of
   * waiting for an event that will never come again.
   */
  endedBy: number | null;
}

export async function* followRun(conversation: AsyncIterable<StoredEvent>, options: RunFollowOptions): AsyncGenerator<StoredEvent> {
  const { runId, afterSeq, endedBy } = options;
  if (endedBy !== null && (afterSeq === null || afterSeq >= endedBy)) return;
  for await (const event of conversation) {
    if (event.runId === runId) {
      yield event;
      if (TERMINAL_EVENT_TYPES.has(event.type)) return;
    }
    if (endedBy !== null && event.seq >= endedBy) return;
  }
}
