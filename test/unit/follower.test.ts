/**
 * The follower pushed rather than pulled (events/follower.ts, event-stream.ts), as WebSocket
 * subscriptions use it: the same exactly-once, in-order, gap-filling semantics as the pulled
 * stream (follow.test.ts), with a live event handed over inside the append that announced it.
 */
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/domain/events.ts';
import { conversationEvents, type EventSink } from '../../src/events/event-stream.ts';
import { ConversationFollower } from '../../src/events/follower.ts';
import { MemoryEventLog } from '../../src/store/memory/event-log.ts';
import { FlakyReads, lossyDoorbell } from '../support/event-logs.ts';

const retention = { maxEventsPerConversation: 10_000, maxAgeMs: 3_600_000 };
const thinking = (text: string, runId = 'r1') => ({ type: 'AgentThinking', text, conversationId: 'c1', runId, agentId: 'guide' }) as const;
const completed = (runId: string) =>
  ({
    type: 'AgentCancelled',
    reason: 'done',
    conversationId: 'c1',
    runId,
    agentId: 'guide',
  }) as const;

/** A sink that records what it is handed, and resolves `until` once a condition over it holds. */
class Recorder implements EventSink {
  readonly seqs: number[] = [];
  error: unknown = null;
  done = false;
  private waiter: (() => void) | null = null;
  private condition: () => boolean = () => false;

  event(event: StoredEvent): void {
    this.seqs.push(event.seq);
    this.check();
  }
  failed(error: unknown): void {
    this.error = error;
    this.check();
  }
  completed(): void {
    this.done = true;
    this.check();
  }
  until(condition: () => boolean): Promise<void> {
    this.condition = condition;
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.check();
    });
  }
  private check() {
    if (this.waiter && this.condition()) {
      this.waiter();
      this.waiter = null;
    }
  }
}

describe('ConversationFollower, pushed', () => {
  it('hands a live event next in line to the sink inside the append that announced it', async () => {
    const log = new MemoryEventLog(retention);
    await log.append(thinking('replayed'));
    const sink = new Recorder();
    const follower = new ConversationFollower(log, 'c1', { afterSeq: 0, bufferLimit: 100 }, sink);
    follower.start();
    await sink.until(() => sink.seqs.length === 1);
    // appendSync does not yield: the event can only have arrived with no async step in between.
    log.appendSync(thinking('2'));
    expect(sink.seqs).toEqual([1, 2]);
    log.appendSync(thinking('3'));
    log.appendSync(thinking('4'));
    expect(sink.seqs).toEqual([1, 2, 3, 4]);
    follower.stop();
    log.appendSync(thinking('5'));
    expect(sink.seqs).toEqual([1, 2, 3, 4]);
  });

  it('queues no live event that is next in line, and drops the queue once emptied after a wait, so that an idle follower holds no storage for it', async () => {
    // The queue is private: a counting one is put in its place to count the events that wait in it.
    class CountingQueue extends Array<StoredEvent> {
      queued = 0;
      override push(...events: StoredEvent[]): number {
        this.queued += events.length;
        return super.push(...events);
      }
    }
    const log = new MemoryEventLog(retention);
    const sink = new Recorder();
    const follower = new ConversationFollower(log, 'c1', { afterSeq: 0, bufferLimit: 100 }, sink);
    const held = follower as unknown as { live: StoredEvent[] };
    const queue = new CountingQueue();
    held.live = queue;
    follower.start();
    await sink.until(() => true);
    for (const text of ['1', '2', '3']) log.appendSync(thinking(text));
    expect(sink.seqs).toEqual([1, 2, 3]);
    expect(queue.queued).toBe(0);
    follower.pause();
    for (const text of ['4', '5']) log.appendSync(thinking(text));
    expect(queue.queued).toBe(2);
    follower.resume();
    expect(sink.seqs).toEqual([1, 2, 3, 4, 5]);
    expect(held.live).not.toBe(queue);
    expect(held.live).toEqual([]);
    follower.stop();
  });

  it('replays after afterSeq, then follows live, filling gaps from the log, each event once in order', async () => {
    const memory = new MemoryEventLog(retention);
    for (const text of ['a', 'b', 'c']) await memory.append(thinking(text));
    const log = lossyDoorbell(memory, (event) => event.seq % 3 === 0);
    const sink = new Recorder();
    const follower = new ConversationFollower(log, 'c1', { afterSeq: 1, bufferLimit: 100, pageSize: 2 }, sink);
    follower.start();
    for (let index = 4; index <= 12; index += 1) await memory.append(thinking(String(index)));
    await sink.until(() => sink.seqs.length === 11);
    expect(sink.seqs).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    follower.stop();
  });

  it('ends with EVENTS_EXPIRED when afterSeq is older than what is retained', async () => {
    const log = new MemoryEventLog({ maxEventsPerConversation: 3, maxAgeMs: 3_600_000 });
    for (let index = 0; index < 5; index += 1) await log.append(thinking(String(index)));
    const sink = new Recorder();
    new ConversationFollower(log, 'c1', { afterSeq: 0, bufferLimit: 100 }, sink).start();
    await sink.until(() => sink.error !== null);
    expect(sink.error).toMatchObject({ code: 'EVENTS_EXPIRED' });
    expect(sink.seqs).toEqual([]);
  });

  it('keeps following through a log that is briefly unreachable', async () => {
    const memory = new MemoryEventLog(retention);
    const flaky = new FlakyReads(lossyDoorbell(memory, (event) => event.seq === 1 || event.seq === 4));
    const sink = new Recorder();
    const follower = new ConversationFollower(flaky.log, 'c1', { afterSeq: 0, bufferLimit: 100, retryMs: 1 }, sink);
    follower.start();
    await memory.append(thinking('1'));
    await sink.until(() => sink.seqs.length === 1);
    flaky.outage = true;
    for (let index = 2; index <= 4; index += 1) await memory.append(thinking(String(index)));
    while (flaky.failedReads < 3) await new Promise((resolve) => setImmediate(resolve));
    flaky.outage = false;
    await sink.until(() => sink.seqs.length === 4);
    expect(sink.seqs).toEqual([1, 2, 3, 4]);
    expect(sink.error).toBeNull();
    follower.stop();
  });
});

describe('conversationEvents, pushed', () => {
  it("hands over one run's events and completes after its terminal event, no longer listening", async () => {
    const log = new MemoryEventLog(retention);
    await log.append(thinking('other', 'r0'));
    const sink = new Recorder();
    const stream = conversationEvents(log, 'c1', { afterSeq: 0, bufferLimit: 100 }, { runId: 'r1', afterSeq: 0, endedBy: null }).push(sink);
    log.appendSync(thinking('mine'));
    log.appendSync(thinking('interleaved', 'r2'));
    log.appendSync(completed('r1'));
    await sink.until(() => sink.done);
    log.appendSync(thinking('after', 'r1'));
    expect(sink.seqs).toEqual([2, 4]);
    stream.stop();
  });

  it('completes at once for a run that ended at or before afterSeq', async () => {
    const log = new MemoryEventLog(retention);
    const sink = new Recorder();
    conversationEvents(log, 'c1', { afterSeq: 5, bufferLimit: 100 }, { runId: 'r1', afterSeq: 5, endedBy: 5 }).push(sink);
    expect(sink.done).toBe(true);
    expect(sink.seqs).toEqual([]);
  });
});
