import { describe, expect, it, vi } from 'vitest';
import { followConversation } from '../../src/events/follow.ts';
import { MemoryEventLog } from '../../src/store/memory/event-log.ts';
import type { StoredEvent } from '../../src/domain/events.ts';
import { FlakyReads, lossyDoorbell } from '../support/event-logs.ts';

const retention = { maxEventsPerConversation: 10_000, maxAgeMs: 3_600_000 };
const thinking = (text: string) => ({ type: 'AgentThinking', text, conversationId: 'c1', runId: 'r1', agentId: 'guide' }) as const;

async function take(iterator: AsyncGenerator<StoredEvent>, count: number): Promise<number[]> {
  const seqs: number[] = [];
  while (seqs.length < count) {
    const next = await iterator.next();
    if (next.done) break;
    seqs.push(next.value.seq);
  }
  return seqs;
}

describe('followConversation', () => {
  it('replays after afterSeq, then follows live, each event once in order', async () => {
    const log = new MemoryEventLog(retention);
    for (const text of ['a', 'b', 'c']) await log.append(thinking(text));
    const controller = new AbortController();
    const events = followConversation(log, 'c1', { afterSeq: 1, bufferLimit: 100, signal: controller.signal });
    expect(await take(events, 2)).toEqual([2, 3]);
    const pending = take(events, 2);
    await log.append(thinking('d'));
    await log.append(thinking('e'));
    expect(await pending).toEqual([4, 5]);
    controller.abort();
    expect((await events.next()).done).toBe(true);
  });

  it('without afterSeq starts after the newest event', async () => {
    const log = new MemoryEventLog(retention);
    await log.append(thinking('old'));
    const controller = new AbortController();
    const events = followConversation(log, 'c1', { afterSeq: null, bufferLimit: 100, signal: controller.signal });
    const first = events.next();
    await log.append(thinking('new'));
    expect((await first).value?.seq).toBe(2);
    controller.abort();
  });

  it('a consumer that falls behind its buffer reads the rest from the log', async () => {
    const log = new MemoryEventLog(retention);
    const controller = new AbortController();
    const events = followConversation(log, 'c1', { afterSeq: 0, bufferLimit: 2, signal: controller.signal });
    const first = events.next();
    await log.append(thinking('1'));
    expect((await first).value?.seq).toBe(1);
    // Ten more arrive while the consumer is not pulling: only two fit in its buffer.
    for (let index = 2; index <= 11; index += 1) await log.append(thinking(String(index)));
    expect(await take(events, 10)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    controller.abort();
  });

  it('fills the gap when notifications are lost', async () => {
    const memory = new MemoryEventLog(retention);
    const log = lossyDoorbell(memory, (event) => event.seq % 3 === 0);
    const controller = new AbortController();
    const events = followConversation(log, 'c1', { afterSeq: 0, bufferLimit: 100, signal: controller.signal });
    const pending = take(events, 6);
    for (let index = 1; index <= 6; index += 1) await memory.append(thinking(String(index)));
    expect(await pending).toEqual([1, 2, 3, 4, 5, 6]);
    controller.abort();
  });

  it('keeps following through a log that is briefly unreachable, then fills the gap', async () => {
    const memory = new MemoryEventLog(retention);
    const flaky = new FlakyReads(lossyDoorbell(memory, (event) => event.seq === 1 || event.seq === 5));
    const controller = new AbortController();
    const events = followConversation(flaky.log, 'c1', { afterSeq: 0, bufferLimit: 100, retryMs: 1, signal: controller.signal });
    const first = events.next();
    await memory.append(thinking('1'));
    expect((await first).value?.seq).toBe(1);
    // Seq 2 to 4 are never announced; 5 is, while the log cannot be read.
    flaky.outage = true;
    const rest = take(events, 4);
    for (let index = 2; index <= 5; index += 1) await memory.append(thinking(String(index)));
    while (flaky.failedReads < 3) await new Promise((resolve) => setImmediate(resolve));
    flaky.outage = false;
    expect(await rest).toEqual([2, 3, 4, 5]);
    controller.abort();
  });

  it('fails when the replay cannot be read at the start', async () => {
    const memory = new MemoryEventLog(retention);
    await memory.append(thinking('1'));
    const broken = new FlakyReads(memory);
    broken.outage = true;
    const events = followConversation(broken.log, 'c1', { afterSeq: 0, bufferLimit: 100, signal: new AbortController().signal });
    await expect(events.next()).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('ends promptly when aborted while waiting for events', async () => {
    const log = new MemoryEventLog(retention);
    const controller = new AbortController();
    const events = followConversation(log, 'c1', { afterSeq: 0, bufferLimit: 100, signal: controller.signal });
    const waiting = events.next();
    controller.abort();
    expect((await waiting).done).toBe(true);
  });
});

describe('MemoryEventLog', () => {
  it('numbers events per conversation and keeps the message seq in step', async () => {
    const log = new MemoryEventLog(retention);
    const first = await log.append(thinking('x'));
    const other = await log.append({ ...thinking('y'), conversationId: 'c2' });
    const message = await log.append({
      type: 'MessageCreated',
      conversationId: 'c1',
      runId: 'r2',
      agentId: null,
      message: { id: 'm', conversationId: 'c1', role: 'USER', text: 'hi', agentId: null, runId: 'r2', seq: 0, createdAt: '' },
    });
    expect([first.seq, other.seq, message.seq]).toEqual([1, 1, 2]);
    expect(message.type === 'MessageCreated' && message.message.seq).toBe(2);
    expect(await log.lastSeq('c1')).toBe(2);
    expect(await log.lastSeq('none')).toBe(0);
  });

  it('retains at most the configured count and says EVENTS_EXPIRED before it', async () => {
    const log = new MemoryEventLog({ maxEventsPerConversation: 3, maxAgeMs: 3_600_000 });
    for (let index = 0; index < 5; index += 1) await log.append(thinking(String(index)));
    expect((await log.read('c1', 2, 10)).map((event) => event.seq)).toEqual([3, 4, 5]);
    await expect(log.read('c1', 1, 10)).rejects.toMatchObject({ code: 'EVENTS_EXPIRED' });
  });

  it('keeps serving the newest events across many appends past the count', async () => {
    const log = new MemoryEventLog({ maxEventsPerConversation: 3, maxAgeMs: 3_600_000 });
    for (let index = 0; index < 3000; index += 1) await log.append(thinking(String(index)));
    expect((await log.read('c1', 2997, 10)).map((event) => event.seq)).toEqual([2998, 2999, 3000]);
    await expect(log.read('c1', 2996, 10)).rejects.toMatchObject({ code: 'EVENTS_EXPIRED', extensions: { firstRetainedSeq: 2998 } });
    expect(await log.read('c1', 3000, 10)).toEqual([]);
  });

  it('shares one frozen object per event between the appender, listeners and readers', async () => {
    const log = new MemoryEventLog({ maxEventsPerConversation: 10, maxAgeMs: 3_600_000 });
    const heard: StoredEvent[] = [];
    log.listen('c1', (event) => heard.push(event));
    log.listen('c1', (event) => heard.push(event));
    const appended = await log.append(thinking('shared'));
    const [read] = await log.read('c1', 0, 1);
    expect(heard).toEqual([appended, appended]);
    expect(heard.every((event) => event === appended) && read === appended).toBe(true);
    expect(Object.isFrozen(appended)).toBe(true);
  });

  it('deep-copies only the nested values of what it appends: tokens and thinking cost no structuredClone', async () => {
    const log = new MemoryEventLog(retention);
    const clone = vi.spyOn(globalThis, 'structuredClone');
    try {
      for (let index = 0; index < 100; index += 1) {
        await log.append({ type: 'AgentToken', delta: `d${index}`, conversationId: 'c1', runId: 'r1', agentId: 'guide' });
        await log.append(thinking(String(index)));
      }
      expect(clone).not.toHaveBeenCalled();
      const args = { query: 'q' };
      await log.append({ type: 'ToolExecuting', toolCallId: 't', toolName: 'lookup', arguments: args, conversationId: 'c1', runId: 'r1', agentId: 'guide' });
      expect(clone.mock.calls).toEqual([[args]]);
    } finally {
      clone.mockRestore();
    }
  });

  it('forgets events older than the configured age', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const log = new MemoryEventLog({ maxEventsPerConversation: 100, maxAgeMs: 1000 }, () => now);
    await log.append(thinking('old'));
    now += 2000;
    await log.append(thinking('new'));
    expect((await log.read('c1', 1, 10)).map((event) => event.seq)).toEqual([2]);
    await expect(log.read('c1', 0, 10)).rejects.toMatchObject({ code: 'EVENTS_EXPIRED' });
  });
});
