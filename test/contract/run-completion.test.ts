/**
 * Completing a run in one script, on one Redis (Backend.completeRun): it does what the
 * executor's steps at a run's end do (COMPLETED with its usage and times, the AgentCompleted
 * with its reply, the conversation's touch, the run leaving its queue and its lease), and
 * nothing at all when the run's status or its lease moved on first; the run's last streamed text
 * goes with it, and is stored the long way when the run was stopped first. How many round trips
 * it saves a run is counted in ./redis-round-trips.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runEvent } from '../../src/domain/events.ts';
import type { MessageRecord, RunRecord } from '../../src/domain/records.ts';
import { LeaseLostError } from '../../src/store/event-log.ts';
import type { Backend, RunCompletion, StartedHead } from '../../src/store/interfaces.ts';
import { createMemoryBackend } from '../../src/store/memory/index.ts';
import { BACKEND_SETTINGS, collect, DEFAULT_RETENTION, helloRun, helloSend, redisWorld, type Instances } from './worlds.ts';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import type { RunningServer } from '../../src/server.ts';
import { createBackend } from '../../src/store/backends.ts';
import { tokenFor, userClient, type AgentEvent } from '../support/clients.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { awaitRunEnd, expectGapless, send } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const HOLDER = 'instance-a';
const LEASE_MS = 60_000;

describe('Backend.completeRun on one Redis', () => {
  const world = redisWorld();
  let instances: Instances;
  let backend: Backend;

  beforeAll(() => world.setup());
  afterAll(() => world.teardown());
  afterEach(() => instances?.close());

  /** Fresh state under a key prefix of its own, with a run sent and started by HOLDER in a conversation of its own: its MessageCreated is seq 1, its AgentStarted seq 2. */
  async function started(): Promise<StartedHead> {
    instances = await world.instances();
    backend = instances.a;
    const run = helloRun(randomUUID());
    expect((await backend.sends.commit(helloSend(run))).outcome).toBe('stored');
    const result = await backend.startHead!(run.conversationId, HOLDER, LEASE_MS, new Date().toISOString(), 20);
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
    return { run, patch: { usage, activeMs: 12, finishedAt: reply.createdAt }, event, streamed: [], leaseEpoch, holder: HOLDER };
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
    const heard = collect(instances.b, conversationId, 2, 1);
    const completed = await backend.completeRun!(completion);
    expect(completed).not.toBeNull();
    const reply = { ...completion.event.message, seq: 3 };
    expect(completed!.event).toMatchObject({ type: 'AgentCompleted', seq: 3, runId: head.run.id, message: reply, usage: completion.patch.usage });
    expect(completed!.run).toEqual({ ...head.run, ...completion.patch, status: 'COMPLETED' });
    expect(completed!.runsLeft).toBe(false);
    expect(await state(head.run, reply)).toMatchObject({
      run: completed!.run,
      lastSeq: 3,
      reply,
      conversation: { updatedAt: reply.createdAt },
      queue: [],
      leased: false,
    });
    expect(await heard.done).toEqual([completed!.event]);
    expect(await backend.messages.listLast(conversationId, 10)).toContainEqual(reply);
  });

  it("appends the run's last streamed text just before its AgentCompleted, in the same step", async () => {
    const head = await started();
    const completion = completionOf(head);
    const { conversationId } = head.run;
    const streamed = ['Hello ', 'to you'].map((delta) => runEvent({ type: 'AgentToken', delta }, head.run, head.run.agentId));
    const heard = collect(instances.b, conversationId, 2, 3);
    const completed = await backend.completeRun!({ ...completion, streamed });
    expect(completed!.streamed).toMatchObject([
      { type: 'AgentToken', delta: 'Hello ', seq: 3 },
      { type: 'AgentToken', delta: 'to you', seq: 4 },
    ]);
    const reply = { ...completion.event.message, seq: 5 };
    expect(completed!.event).toMatchObject({ type: 'AgentCompleted', seq: 5, message: reply });
    expect(await backend.messages.get(reply.id)).toEqual(reply);
    expect(await heard.done).toEqual([...completed!.streamed, completed!.event]);
    expect(await backend.events.read(conversationId, 2, 10)).toEqual([...completed!.streamed, completed!.event]);
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
    const completion = { ...completionOf(head), streamed: [runEvent({ type: 'AgentToken', delta: 'Hello' }, head.run, head.run.agentId)] };
    await backend.runs.transition(head.run.id, ['RUNNING'], { status: 'CANCELLED', cancelReason: 'Cancelled.' });
    const before = await state(head.run, completion.event.message);
    expect(await backend.completeRun!(completion)).toBeNull();
    expect(await state(head.run, completion.event.message)).toEqual(before);
    expect(before).toMatchObject({ run: { status: 'CANCELLED' }, lastSeq: 2, reply: null, queue: [head.run.id], leased: true });
  });

  it('changes nothing, and says the lease was lost, when it moved on', async () => {
    const head = await started();
    const completion = completionOf(head);
    const before = await state(head.run, completion.event.message);
    await expect(backend.completeRun!({ ...completion, leaseEpoch: head.leaseEpoch - 1 })).rejects.toBeInstanceOf(LeaseLostError);
    expect(await state(head.run, completion.event.message)).toEqual(before);
    expect(before).toMatchObject({ run: { status: 'RUNNING' }, lastSeq: 2, reply: null, queue: [head.run.id], leased: true });
  });
});

it('is absent where the executor’s steps cost no round trips (memory)', () => {
  const backend = createMemoryBackend(DEFAULT_RETENTION, BACKEND_SETTINGS);
  expect(backend.completeRun).toBeUndefined();
});

describe('a run stopped after its agent finished, before its one-step completion, on one Redis', () => {
  let redis: TestRedis;
  let server: RunningServer;
  /** The server's records, for the agent below; and what each one-step completion was handed to store first. */
  let backend: Backend;
  const streamedAtCompletion: number[] = [];
  /** The cancel the agent below made as it returned. */
  let cancelled: Promise<unknown> = Promise.resolve();
  /**
   * Streams two tokens, which still wait for the append window (an hour long here) when it
   * returns, and returns as its run moves to CANCELLED: a cancel that lands between the agent's
   * end and the run's completion (a real cancel would stop the agent first). The move goes to
   * Redis before the completion, on the same connection.
   */
  const cancelledAtTheEnd: AgentDefinition = {
    id: 'test.cancelled-at-the-end',
    kind: 'LIAISON',
    pillar: null,
    name: 'Cancelled at the end',
    description: 'Streams two tokens, then is cancelled as it returns.',
    async run(context) {
      await context.stream('Hello ');
      await context.stream('there');
      cancelled = backend.runs.transition(context.runId, ['RUNNING'], { status: 'CANCELLED', cancelReason: 'Cancelled by the user.' });
    },
  };

  beforeAll(async () => {
    redis = await startRedis();
    server = await startTestServer(
      { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `agw-completion-${randomUUID()}:`, APPEND_COALESCE_MS: '3600000' },
      {
        agents: [cancelledAtTheEnd],
        backend: async (config, logger) => {
          backend = await createBackend(config, logger);
          const completeRun = backend.completeRun!.bind(backend);
          backend.completeRun = (completion) => {
            streamedAtCompletion.push(completion.streamed.length);
            return completeRun(completion);
          };
          return backend;
        },
      },
    );
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  it('stores its held tokens the long way, then its AgentCancelled', async () => {
    const token = await tokenFor('cancelled-at-the-end');
    const sent = await send(server.url, token, { text: 'Hello', target: { kind: 'LIAISON', agentId: cancelledAtTheEnd.id } });
    expect(await awaitRunEnd(server.url, token, sent.runId)).toBe('CANCELLED');
    expect(await cancelled).toMatchObject({ status: 'CANCELLED' });
    // The completion was handed both tokens, and refused them with the rest.
    expect(streamedAtCompletion).toEqual([2]);
    const events = (
      await userClient(server.url, token)(
        `query ($id: ID!) { conversation(id: $id) { events(first: 100) { __typename seq runId ... on AgentToken { delta } } } }`,
        {
          id: sent.conversationId,
        },
      )
    ).data.conversation.events as AgentEvent[];
    expectGapless(events);
    expect(events.map((event) => event.__typename)).toEqual(['MessageCreated', 'AgentStarted', 'AgentToken', 'AgentToken', 'AgentCancelled']);
    expect(events.filter((event) => event.__typename === 'AgentToken').map((event) => event.delta)).toEqual(['Hello ', 'there']);
  });
});
