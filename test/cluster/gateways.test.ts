/**
 * Gateways on a Redis Cluster (REDIS_CLUSTER_NODES) beside PostgreSQL, and on the cluster alone
 * (the Redis store of record), end to end through real clients: two instances of one
 * deployment, a run sent through one and followed on both, sends repeated through either, many
 * conversations at once, runs handed to a worker. The `cluster` test project runs the whole
 * end-to-end suite on a cluster too, with gateways that execute their own runs; this file keeps
 * what that suite does not do: two instances, and runs handed to workers there.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, SEND, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { startPostgres, type TestPostgres } from '../support/postgres-server.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';
import { expectGapless, expectRunInvariants, send, type SentRun } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const topologies = [
  { kind: 'postgres+cluster', withPostgres: true },
  { kind: 'redis+cluster', withPostgres: false },
];

describe.each(topologies)('gateways on a Redis Cluster ($kind)', ({ kind, withPostgres }) => {
  let cluster: TestRedisCluster;
  let postgres: TestPostgres | undefined;
  let a: RunningServer;
  let b: RunningServer;
  let token: string;
  let deployment: Record<string, string>;

  beforeAll(async () => {
    [cluster, postgres] = await Promise.all([startRedisCluster(), withPostgres ? startPostgres() : undefined]);
    deployment = {
      REDIS_CLUSTER_NODES: cluster.urls.join(','),
      ...(postgres && { DATABASE_URL: await postgres.createDatabase() }),
      REDIS_KEY_PREFIX: `agw-test-${randomUUID()}:`,
      AGENT_STEP_DELAY_MS: '1',
    };
    [a, b] = [await startTestServer(deployment), await startTestServer(deployment)];
    token = await tokenFor('cluster-user');
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([cluster?.stop(), postgres?.stop()]);
  });

  /** Follows the conversation of `sent` on `server` from its afterSeq until the run's terminal event. */
  async function follow(server: RunningServer, sent: SentRun): Promise<AgentEvent[]> {
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
    try {
      return await recorder.until((events) => events.some((event) => event.runId === sent.runId && isTerminal(event)), `the end of run ${sent.runId}`);
    } finally {
      recorder.stop();
      await client.dispose();
    }
  }

  it('streams a run sent through one instance to subscribers on both, the same events in the same order', async () => {
    expect([a.gateway.backend.kind, b.gateway.backend.kind]).toEqual([kind, kind]);
    const sent = await send(a.url, token, { text: 'Hello over the cluster' });
    const [onA, onB] = await Promise.all([follow(a, sent), follow(b, sent)]);
    expectRunInvariants(onB, sent);
    expectGapless(onB, sent.afterSeq + 1);
    expect(onA).toEqual(onB);
    expect(onB.at(-1)!.__typename).toBe('AgentCompleted');
  });

  it('makes one message and one run of a send repeated through both instances at once', async () => {
    const input = { text: 'Only once', clientMessageId: `once-${randomUUID()}` };
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => userClient([a, b][i % 2]!.url, token)(SEND, { input })));
    for (const response of responses) expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
    const ids = new Set(responses.map((response) => JSON.stringify([response.data.sendAgentMessage.conversation.id, response.data.sendAgentMessage.run.id])));
    expect(ids.size).toBe(1);
    const [conversationId] = JSON.parse([...ids][0]!) as [string, string];
    const log = (await userClient(b.url, token)(`query ($id: ID!) { conversation(id: $id) { runs { id } messages { role } } }`, { id: conversationId })).data
      .conversation;
    expect(log.runs).toHaveLength(1);
    expect(log.messages.filter((message: { role: string }) => message.role === 'USER')).toHaveLength(1);
  });

  it('runs many conversations at once across the instances, each followed gapless on the other one', async () => {
    const sends = await Promise.all(Array.from({ length: 8 }, (_, i) => send([a, b][i % 2]!.url, token, { text: `Hello ${i}` })));
    const followed = await Promise.all(sends.map((sent, i) => follow([b, a][i % 2]!, sent)));
    followed.forEach((events, i) => {
      expectRunInvariants(events, sends[i]!);
      expectGapless(events, sends[i]!.afterSeq + 1);
    });
  });

  it('hands runs to a worker through the intent queue on the cluster', async () => {
    // A gateway that executes nothing itself, with a worker beside it (test/support/server.ts).
    const handing = await startTestServer({ ...deployment, RUN_EXECUTION: 'workers' });
    try {
      const sends = await Promise.all(Array.from({ length: 3 }, (_, i) => send(handing.url, token, { text: `Worked ${i}` })));
      const followed = await Promise.all(sends.map((sent) => follow(a, sent)));
      followed.forEach((events, i) => {
        expectRunInvariants(events, sends[i]!);
        expect(events.at(-1)!.__typename).toBe('AgentCompleted');
      });
    } finally {
      await handing.close();
    }
  });
});
