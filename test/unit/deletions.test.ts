/**
 * A pushed subscription ending when its conversation is deleted: one object is at once the sink
 * its stream pushes to, the deletion's watcher and what the subscriber stops (an idle subscriber
 * holds it, not a set of closures), and events go through it unchanged until the deletion.
 */
import { expect, it } from 'vitest';
import type { StoredEvent } from '../../src/domain/events.ts';
import type { EventSink, EventStream } from '../../src/events/event-stream.ts';
import { ConversationDeletions } from '../../src/experience/deletions.ts';
import { withSeq } from '../../src/store/event-log.ts';
import { MemoryControlChannel } from '../../src/store/memory/control.ts';
import { token } from '../contract/worlds.ts';

/** A stream that keeps the sink it is pushed to, and counts its stops. */
function upstream() {
  const state = { sink: null as EventSink | null, stops: 0 };
  const stream: EventStream = {
    iterate: () => {
      throw new Error('pushed only');
    },
    push(sink) {
      state.sink = sink;
      return { stop: () => void (state.stops += 1) };
    },
  };
  return { state, stream };
}

function subscriber() {
  const seen = { events: [] as StoredEvent[], failures: [] as unknown[], completions: 0 };
  const sink: EventSink = {
    event: (event) => void seen.events.push(event),
    failed: (error) => void seen.failures.push(error),
    completed: () => void (seen.completions += 1),
  };
  return { seen, sink };
}

it('pushes through one object that is the sink, the watcher and the stop, and ends it with NOT_FOUND once, on deletion', async () => {
  const control = new MemoryControlChannel();
  const deletions = new ConversationDeletions(control);
  const { state, stream } = upstream();
  const { seen, sink } = subscriber();
  const pushed = deletions.endingOnDeletion('conversation-1', stream).push(sink);
  expect(state.sink).toBe(pushed);
  const event = withSeq(token('conversation-1', 'word '), 1, new Date().toISOString());
  state.sink!.event(event);
  expect(seen.events).toEqual([event]);

  await control.publish({ type: 'conversation-deleted', conversationId: 'conversation-2' });
  expect(seen.failures).toEqual([]);
  await control.publish({ type: 'conversation-deleted', conversationId: 'conversation-1' });
  expect(seen.failures).toHaveLength(1);
  expect(seen.failures[0]).toMatchObject({ code: 'NOT_FOUND' });
  expect(state.stops).toBe(1);
  // No longer watching: a second deletion notice finds nothing to end.
  await control.publish({ type: 'conversation-deleted', conversationId: 'conversation-1' });
  expect(seen.failures).toHaveLength(1);
});

it('stops watching once its stream completes, fails or is stopped', async () => {
  const control = new MemoryControlChannel();
  const deletions = new ConversationDeletions(control);
  const ends = [(sink: EventSink) => sink.completed(), (sink: EventSink) => sink.failed(new Error('gone')), null];
  const subscribers = ends.map((end) => {
    const { state, stream } = upstream();
    const { seen, sink } = subscriber();
    const pushed = deletions.endingOnDeletion('conversation-1', stream).push(sink);
    if (end) end(state.sink!);
    else pushed.stop();
    return { seen, state };
  });
  await control.publish({ type: 'conversation-deleted', conversationId: 'conversation-1' });
  expect(subscribers.map(({ seen }) => seen.failures.filter((error) => (error as { code?: string }).code === 'NOT_FOUND'))).toEqual([[], [], []]);
  expect(subscribers.map(({ state }) => state.stops)).toEqual([0, 0, 1]);
});
