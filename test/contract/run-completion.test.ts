/**
 * Completing a run in one script, on one Redis (Backend.completeRun): it does what the
 * executor's steps at a run's end do (COMPLETED with its usage and times, the AgentCompleted
 * with its reply, the conversation's touch, the run leaving its queue and its lease), and
 * nothing at all when the run's status or its lease moved on first. How many round trips it
 * saves a run is counted in ./redis-round-trips.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runEvent } from '../../src/domain/events.ts';
import type { MessageRecord, RunRecord } from '../../src/domain/records.ts';
import { LeaseLostError } from '../../src/store/event-log.ts';
import type { Backend, RunCompletion, StartedHead } from '../../src/store/interfaces.ts';
import { createMemoryBackend } from '../../src/store/memory/index.ts';
import { BACKEND_SETTINGS, collect, DEFAULT_RETENTION, helloRun, helloSend, redisWorld, type Instances } from './worlds.ts';

const HOLDER = 'instance-a';
const LEASE_MS = 60_000;

describe('Backend.completeRun on one Redis', () => {
  const world = redisWorld();
  let instances: Instances;
  let backend: Backend;

  beforeAll(() => world.setup());
  afterAll(() => world.teardown());
  afterEach(() => instances?.close());

  /** Fresh state under a key prefix of its own, with a run sent and started by HOLDER in a conversation of its own. */
  async function started(): Promise<StartedHead> {
    instances = await world.instances();
    backend = instances.a;
    const run = helloRun(randomUUID());
    expect((await backend.sends.commit(helloSend(run))).outcome).toBe('stored');
    const result = await backend.startHead!(run.conversationId, HOLDER, LEASE_MS, new Date().toISOString());
    if (result.outcome !== 'started') throw new Error('the run did not start');
    return result.started;
  }

  /** The run's completion, its reply a minute after the run was created. */
  function completionOf({ run, leaseEpoch }: StartedHead): RunCompletion {
    const reply: MessageRecord = {
      id: randomUUID(),
      conversationId: run.conversationId,
      role: 'AGENT',
      text: 'Hello to you',
      agentId: run.agentId,
      runId: run.id,
      seq: 0,
      createdAt: new Date(Date.parse(run.createdAt) + 60_000).toISOString(),
    };
    const usage = { inputTokens: 3, outputTokens: 4, totalTokens: 7 };
    const event = runEvent({ type: 'AgentCompleted', message: reply, usage }, run, run.agentId) as RunCompletion['event'];
    return { run, patch: { usage, activeMs: 12, finishedAt: reply.createdAt }, event, leaseEpoch, holder: HOLDER };
  }

  /** What a completion changes, to show that one that was refused changed nothing. */
  const state = async (run: RunRecord, reply: MessageRecord) => ({
    run: await backend.runs.get(run.id),
    lastSeq: await backend.events.lastSeq(run.conversationId),
    reply: await backend.messages.get(reply.id),
    conversation: await backend.conversations.get(run.conversationId),
    queue: await backend.runQueue.list(run.conversationId),
    leased: await backend.leases.renew(run.id, HOLDER, LEASE_MS),
  });

  it('completes the run, appends its AgentCompleted with the reply, touches the conversation, and lets go of the queue and the lease', async () => {
    const head = await started();
    const completion = completionOf(head);
    const { conversationId } = head.run;
    const heard = collect(instances.b, conversationId, 1, 1);
    const completed = await backend.completeRun!(completion);
    expect(completed).not.toBeNull();
    const reply = { ...completion.event.message, seq: 2 };
    expect(completed!.event).toMatchObject({ type: 'AgentCompleted', seq: 2, runId: head.run.id, message: reply, usage: completion.patch.usage });
    expect(completed!.run).toEqual({ ...head.run, ...completion.patch, status: 'COMPLETED' });
    expect(completed!.runsLeft).toBe(false);
    expect(await state(head.run, reply)).toMatchObject({
      run: completed!.run,
      lastSeq: 2,
      reply,
      conversation: { updatedAt: reply.createdAt },
      queue: [],
      leased: false,
    });
    expect(await heard.done).toEqual([completed!.event]);
    expect(await backend.messages.listLast(conversationId, 10)).toContainEqual(reply);
  });

  it('says that runs are left in the queue when one is', async () => {
    const head = await started();
    const next = helloRun(head.run.conversationId);
    expect((await backend.sends.commit(helloSend(next))).outcome).toBe('stored');
    const completed = await backend.completeRun!(completionOf(head));
    expect(completed!.runsLeft).toBe(true);
    expect(await backend.runQueue.list(head.run.conversationId)).toEqual([next.id]);
  });

  it('changes nothing when the run was stopped first', async () => {
    const head = await started();
    const completion = completionOf(head);
    await backend.runs.transition(head.run.id, ['RUNNING'], { status: 'CANCELLED', cancelReason: 'Cancelled.' });
    const before = await state(head.run, completion.event.message);
    expect(await backend.completeRun!(completion)).toBeNull();
    expect(await state(head.run, completion.event.message)).toEqual(before);
    expect(before).toMatchObject({ run: { status: 'CANCELLED' }, lastSeq: 1, reply: null, queue: [head.run.id], leased: true });
  });

  it('changes nothing, and says the lease was lost, when it moved on', async () => {
    const head = await started();
    const completion = completionOf(head);
    const before = await state(head.run, completion.event.message);
    await expect(backend.completeRun!({ ...completion, leaseEpoch: head.leaseEpoch - 1 })).rejects.toBeInstanceOf(LeaseLostError);
    expect(await state(head.run, completion.event.message)).toEqual(before);
    expect(before).toMatchObject({ run: { status: 'RUNNING' }, lastSeq: 1, reply: null, queue: [head.run.id], leased: true });
  });
});

it('is absent where the executor’s steps cost no round trips (memory)', () => {
  const backend = createMemoryBackend(DEFAULT_RETENTION, BACKEND_SETTINGS);
  expect(backend.completeRun).toBeUndefined();
});
