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

/** Whether the run is over before the stream's first event. */
export function runOverBeforeStart({ afterSeq, endedBy }: RunFollowOptions): boolean {
  return endedBy !== null && (afterSeq === null || afterSeq >= endedBy);
}

/** For one event of the conversation: whether it is the run's, and whether the run is over after it. */
export function runStep({ runId, endedBy }: RunFollowOptions, event: StoredEvent): { deliver: boolean; last: boolean } {
  const deliver = event.runId === runId;
  const last = (deliver && TERMINAL_EVENT_TYPES.has(event.type)) || (endedBy !== null && event.seq >= endedBy);
  return { deliver, last };
}

export async function* followRun(conversation: AsyncIterable<StoredEvent>, options: RunFollowOptions): AsyncGenerator<StoredEvent> {
  if (runOverBeforeStart(options)) return;
  for await (const event of conversation) {
    const { deliver, last } = runStep(options, event);
    if (deliver) yield event;
    if (last) return;
  }
}
