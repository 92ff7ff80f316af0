/**
 * A primary of the Redis Cluster killed under ten running runs: its replica takes over, and every
 * run still ends (completed, or failed retryably: the leases were on the dead primary, so their
 * runs are usually taken over as WORKER_LOST) with every follower, on the other gateway, given
 * each event of its conversation once and in order, and the deployment serves on.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, isTerminal, tokenFor, wsClient, type AgentEvent } from '../support/clients.ts';
import { startPostgres, type TestPostgres } from '../support/postgres-server.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';
import { expectGapless, expectRunInvariants, send, type SentRun } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

describe('a Redis Cluster primary failing over under running runs', () => {
  let cluster: TestRedisCluster;
  let postgres: TestPostgres;
  let a: RunningServer;
  let b: RunningServer;
  const prefix = `agw-test-${randomUUID()}:`;

  beforeAll(async () => {
    [cluster, postgres] = await Promise.all([startRedisCluster({ nodeTimeoutMs: 2000 }), startPostgres()]);
    const deployment = {
      REDIS_CLUSTER_NODES: cluster.urls.join(','),
      DATABASE_URL: await postgres.createDatabase(),
      REDIS_KEY_PREFIX: prefix,
      // Runs of ~40 tokens that last through the failover; leases that a survivor claims soon.
      AGENT_STEP_DELAY_MS: '100',
      RUN_LEASE_MS: '3000',
      RUN_SWEEP_INTERVAL_MS: '200',
    };
    [a, b] = [await startTestServer(deployment), await startTestServer(deployment)];
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([cluster?.stop(), postgres?.stop()]);
  });

  it('ends every run, and delivers each event once and in order, when the primary of the leases dies', { timeout: 60_000 }, async () => {
    const token = await tokenFor('failover-user');
    const sends: SentRun[] = await Promise.all(Array.from({ length: 10 }, (_, i) => send([a, b][i % 2]!.url, token, { text: `Hello ${i}` })));
    const followers = sends.map((sent, i) => {
      const client = wsClient([b, a][i % 2]!.url, token);
      return { client, recorder: new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq }) };
    });
    try {
      await Promise.all(followers.map(({ recorder }) => recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'a token')));
      const perPrimary = await cluster.keysPerPrimary(prefix);
      const leases = [...perPrimary].find(([, keys]) => keys.some((key) => key.startsWith(`${prefix}{leases}`)))?.[0];
      if (!leases) throw new Error('no primary holds the leases');
      await cluster.kill(leases);
      await cluster.untilFailedOver(leases);

      const ended = await Promise.all(
        followers.map(({ recorder }, i) =>
          recorder.until((events) => events.some((event) => event.runId === sends[i]!.runId && isTerminal(event)), `the end of run ${i}`),
        ),
      );
      ended.forEach((events: AgentEvent[], i) => {
        expectGapless(events, sends[i]!.afterSeq + 1);
        expectRunInvariants(events, sends[i]!);
        const terminal = events.at(-1)!;
        if (terminal.__typename !== 'AgentCompleted') expect(terminal).toMatchObject({ __typename: 'AgentFailed', error: { retryable: true } });
      });
      // And the deployment serves on: a new run through either instance completes.
      const after = await send(a.url, token, { text: 'After the failover' });
      const client = wsClient(b.url, token);
      const recorder = new EventRecorder(client, { conversationId: after.conversationId, afterSeq: after.afterSeq });
      const events = await recorder.until((received) => received.some(isTerminal), 'the run after the failover');
      recorder.stop();
      await client.dispose();
      expectRunInvariants(events, after);
      expect(events.at(-1)!.__typename).toBe('AgentCompleted');
    } finally {
      for (const { recorder, client } of followers) {
        recorder.stop();
        await client.dispose();
      }
    }
  });
});
