/** What a resumed run finds of its earlier executions: events by their ids, or by their place. */
import { describe, expect, it } from 'vitest';
import type { EventBody, StoredEvent } from '../../src/domain/events.ts';
import { RunReplay } from '../../src/runtime/replay.ts';

let seq = 0;
const logged = (agentId: string, body: EventBody): StoredEvent =>
  ({ ...body, conversationId: 'c', runId: 'r', agentId, id: `c:${++seq}`, seq, timestamp: '2030-01-01T00:00:00.000Z' }) as StoredEvent;

describe('a run replay', () => {
  const events = [
    logged('guide', { type: 'AgentStarted' }),
    logged('guide', { type: 'AgentToken', delta: 'one ' }),
    logged('liaison', { type: 'AgentToken', delta: 'theirs ' }),
    logged('guide', { type: 'ToolExecuting', toolCallId: 't1', toolName: 'x', arguments: {} }),
    logged('guide', { type: 'ToolCompleted', toolCallId: 't1', toolName: 'x', result: 42, error: null, durationMs: 1 }),
    logged('guide', { type: 'AgentToken', delta: 'two ' }),
  ];

  it("matches tokens by their place among the same agent's, then lets new ones through", () => {
    const replay = new RunReplay(events);
    expect(replay.started).toBe(true);
    expect(replay.take('guide', { type: 'AgentToken', delta: 'one ' })?.seq).toBe(events[1]!.seq);
    expect(replay.take('guide', { type: 'AgentToken', delta: 'two ' })?.seq).toBe(events[5]!.seq);
    expect(replay.catchingUp).toBe(true); // the liaison's token is still to come again
    expect(replay.take('liaison', { type: 'AgentToken', delta: 'theirs ' })?.seq).toBe(events[2]!.seq);
    expect(replay.catchingUp).toBe(false);
    expect(replay.take('guide', { type: 'AgentToken', delta: 'three' })).toBeNull();
  });

  it('finds tool calls by their id, however they interleave', () => {
    const replay = new RunReplay(events);
    expect(replay.toolResult('t1')?.result).toBe(42);
    expect(replay.take('guide', { type: 'ToolExecuting', toolCallId: 't1', toolName: 'x', arguments: {} })?.seq).toBe(events[3]!.seq);
    expect(replay.take('guide', { type: 'ToolExecuting', toolCallId: 't2', toolName: 'x', arguments: {} })).toBeNull();
  });

  it('hands an agent what it did not emit again yet, once, and from then on everything it emits is new', () => {
    const replay = new RunReplay(events);
    replay.take('guide', { type: 'AgentToken', delta: 'one ' });
    expect(replay.takeAll('guide').map((event) => event.seq)).toEqual([events[3]!.seq, events[4]!.seq, events[5]!.seq]);
    expect(replay.takeAll('guide')).toEqual([]);
    expect(replay.take('guide', { type: 'AgentToken', delta: 'two ' })).toBeNull();
  });

  it('has nothing on a run that did not pause', () => {
    const replay = new RunReplay();
    expect(replay.started).toBe(false);
    expect(replay.take('guide', { type: 'AgentStarted' })).toBeNull();
  });
});
