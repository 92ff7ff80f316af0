/**
 * Faults in the middle of things, with real processes on one private Redis: two gateways that
 * leave execution to two workers. A gateway killed while sends are half way through them, whose
 * clients retry through the other gateway.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEND, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { expectRunInvariants, followRun, send } from '../support/runs.ts';
import { CONVERSATION, clusterEnv, startInstance, type Instance } from '../multi/support.ts';
import { startWorker, type WorkerInstance } from './support.ts';

describe('faults mid-send and mid-run', () => {
  let redis: TestRedis;
  let A: Instance;
  let B: Instance;
  let workers: WorkerInstance[] = [];
  const clients: ReturnType<typeof wsClient>[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const env = clusterEnv(redis.url, { RUN_EXECUTION: 'workers', AGENT_STEP_DELAY_MS: '20', WORKER_CONCURRENCY: '4' });
    [A, B, ...workers] = await Promise.all([
      startInstance('A', env),
      startInstance('B', env),
      startWorker('W1', env),
      startWorker('W2', env),
    ]);
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
});
