/**
 * A rolling deploy: an instance stopped with SIGTERM ends the run it executes (SHUTDOWN, retryable)
 * and hands the conversation's next queued run to the instances that stay, at once. Leases here
 * last two minutes, so only that hand-off (not a lease running out) can start the queued run
 * within the test's time.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRecorder, SEND, isTerminal, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { clusterEnv, startInstance, type Instance } from './support.ts';

describe('stopping one of two instances', () => {
  let redis: TestRedis;
  let leaving: Instance;
  let staying: Instance;
  const clients: ReturnType<typeof wsClient>[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const env = clusterEnv(redis.url, { RUN_LEASE_MS: '120000', RUN_SWEEP_INTERVAL_MS: '1000' });
    [leaving, staying] = await Promise.all([
      // No grace period: the run it executes ends at once, and its queued successor moves.
      startInstance('leaving', { ...env, AGENT_STEP_DELAY_MS: '40', GATEWAY_SHUTDOWN_GRACE_MS: '0' }),
      startInstance('staying', env),
    ]);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([leaving, staying].filter(Boolean).map((instance) => instance.process.kill()));
    await redis?.stop();
  });

  it('ends its run as SHUTDOWN and the run queued behind it completes on the other instance', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const viaLeaving = userClient(leaving.url, token);
    const first = (await viaLeaving(SEND, { input: { text: 'Hello there' } })).data.sendAgentMessage;
    const conversationId = first.conversation.id;
    const client = wsClient(staying.url, token);
    clients.push(client);
    const recorder = new EventRecorder(client, { conversationId, afterSeq: first.afterSeq });
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'the first token');
    const queued = (await viaLeaving(SEND, { input: { text: 'And after that?', conversationId } })).data.sendAgentMessage;
    expect(queued.run.status).toBe('QUEUED');

    leaving.process.child.kill('SIGTERM');
    const events = await recorder.untilTerminals(2);
    expect(await leaving.process.exited).toMatchObject({ code: 0 });
    const terminals = events.filter(isTerminal);
    expect(terminals.map((event) => [event.runId, event.__typename])).toEqual([
      [first.run.id, 'AgentFailed'],
      [queued.run.id, 'AgentCompleted'],
    ]);
    expect(terminals[0]?.['error']).toMatchObject({ code: 'SHUTDOWN', retryable: true });
    recorder.stop();
  });
});
