/**
 * Faults in the middle of things, with real processes on one private Redis: two gateways that
 * leave execution to two workers. A gateway killed while sends are half way through them, whose
 * clients retry through the other gateway; and a worker frozen (SIGSTOP) mid-run for longer than
 * its lease, so that the other worker ends the run as WORKER_LOST, then thawed (SIGCONT).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRecorder, SEND, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { expectGapless, expectRunInvariants, followRun, send } from '../support/runs.ts';
import { until } from '../contract/worlds.ts';
import { CONVERSATION, clusterEnv, startInstance, type Instance } from '../multi/support.ts';
import { executingWorker, metric, startWorker, type WorkerInstance } from './support.ts';

describe('faults mid-send and mid-run', () => {
  let redis: TestRedis;
  let A: Instance;
  let B: Instance;
  let workers: WorkerInstance[] = [];
  const clients: ReturnType<typeof wsClient>[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const env = clusterEnv(redis.url, { RUN_EXECUTION: 'workers', AGENT_STEP_DELAY_MS: '20', WORKER_CONCURRENCY: '4' });
    [A, B, ...workers] = await Promise.all([startInstance('A', env), startInstance('B', env), startWorker('W1', env), startWorker('W2', env)]);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([A, B, ...workers].filter(Boolean).map((each) => each.process.kill()));
    await redis?.stop();
    if (process.env['MULTI_LOG_LEVEL']) for (const each of [A, B, ...workers]) console.log(`--- ${each.name}\n${each.process.output()}`);
  });

  it('gives every retry of a send cut off by its gateway dying the one message and run stored, and runs it', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const inputs = Array.from({ length: 24 }, (_, i) => ({
      text: `Hello number ${i}`,
      clientMessageId: randomUUID(),
      conversationId: `torn-${randomUUID()}`,
    }));
    const viaA = userClient(A.url, token);
    const attempts = inputs.map((input) =>
      viaA(SEND, { input }).then(
        (result) => (result.data?.sendAgentMessage as { message: { id: string }; run: { id: string } } | undefined) ?? null,
        () => null,
      ),
    );
    // The first answer means the others are under way: kill A in their midst.
    await Promise.race(attempts);
    A.process.child.kill('SIGKILL');
    const answered = await Promise.all(attempts);
    expect(answered.filter((answer) => answer === null).length, 'sends cut off by the kill').toBeGreaterThan(0);

    // Each client retries through B: one message and one run per key, whatever A got to.
    const retried = await Promise.all(inputs.map((input) => send(B.url, token, input)));
    for (const [i, retry] of retried.entries()) {
      const first = answered[i];
      if (first) expect([retry.messageId, retry.runId]).toEqual([first.message.id, first.run.id]);
      const events = await followRun(B.url, token, retry);
      expectRunInvariants(events, retry);
      expect(events.at(-1)!.__typename).toBe('AgentCompleted');
      const conversation = (await userClient(B.url, token)(CONVERSATION, { id: retry.conversationId })).data.conversation;
      expect(conversation.messages.filter((message: { role: string }) => message.role === 'USER')).toHaveLength(1);
      expect(conversation.runs.map((run: { id: string }) => run.id)).toEqual([retry.runId]);
      // No MessageCreated without its run: every event of the conversation is of the one run.
      expect(new Set(conversation.events.map((event: AgentEvent) => event.runId))).toEqual(new Set([retry.runId]));
    }
  });

  it('refuses the appends of a worker frozen past its lease: nothing of its run follows its WORKER_LOST', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const sent = await send(B.url, token, { text: 'Hello there' });
    const client = wsClient(B.url, token);
    clients.push(client);
    const recorder = new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'the first token');
    const queued = await send(B.url, token, { text: 'And after that?', conversationId: sent.conversationId });
    const frozen = await executingWorker(workers);

    frozen.process.child.kill('SIGSTOP');
    let events: AgentEvent[];
    try {
      // The other worker ends the frozen run and runs the queued one meanwhile.
      events = await recorder.untilTerminals(2);
    } finally {
      frozen.process.child.kill('SIGCONT');
    }
    // Thawed, the worker carries on where it stood until it finds it lost the run, and lets go.
    await until(async () => ((await metric(frozen.url, 'agent_gateway_worker_executing_runs')) === 0 ? true : undefined), 'the thawed worker to let go');
    const lost = events.find((event) => event.runId === sent.runId && isTerminal(event));
    expect(lost).toMatchObject({ __typename: 'AgentFailed', error: { code: 'WORKER_LOST', retryable: true } });

    const log: AgentEvent[] = (await userClient(B.url, token)(CONVERSATION, { id: sent.conversationId })).data.conversation.events;
    expectGapless(log);
    const lostAt = log.findIndex((event) => event.seq === lost!.seq);
    expect(log.slice(lostAt + 1).filter((event) => event.runId === sent.runId)).toEqual([]);
    // The queued run, whole, and from its AgentStarted on nothing but its own events.
    const ofQueued = events.filter((event) => event.runId === queued.runId);
    expectRunInvariants(ofQueued, queued);
    expect(ofQueued.at(-1)!.__typename).toBe('AgentCompleted');
    const startedAt = log.findIndex((event) => event.runId === queued.runId && event.__typename === 'AgentStarted');
    expect(log.slice(startedAt).map((event) => [event.seq, event.runId])).toEqual(ofQueued.slice(1).map((event) => [event.seq, queued.runId]));
    recorder.stop();
  });
});
