/**
 * PostgreSQL as the store of record and a Redis Cluster as the live layer, when the primary
 * holding a conversation loses its data under a live subscription during a run (one waiting for
 * an approval, so that the loss comes at a point the test chooses): Redis held only the
 * conversation's hot tail, PostgreSQL numbers the events, so the subscriber goes on with every
 * event once and in order, seqs continuing, and the next run numbers on from there.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { approver, HITL_TOOLS } from '../support/hitl-agents.ts';
import { startPostgres, type TestPostgres } from '../support/postgres-server.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';
import { expectGapless, expectRunInvariants, send, type SentRun } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

describe('a Redis Cluster primary losing its data under a live subscription, beside PostgreSQL', () => {
  let cluster: TestRedisCluster;
  let postgres: TestPostgres;
  let a: RunningServer;
  let b: RunningServer;
  const prefix = `agw-test-${randomUUID()}:`;
  const clients: ReturnType<typeof wsClient>[] = [];

  beforeAll(async () => {
    [cluster, postgres] = await Promise.all([startRedisCluster(), startPostgres()]);
    const deployment = {
      REDIS_CLUSTER_NODES: cluster.urls.join(','),
      DATABASE_URL: await postgres.createDatabase(),
      REDIS_KEY_PREFIX: prefix,
      RUN_SWEEP_INTERVAL_MS: '200',
    };
    const registries = { agents: [approver], tools: HITL_TOOLS };
    [a, b] = [await startTestServer(deployment, registries), await startTestServer(deployment, registries)];
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([cluster?.stop(), postgres?.stop()]);
  });

  const subscribe = (server: RunningServer, token: string, conversationId: string, afterSeq: number) => {
    const client = wsClient(server.url, token);
    clients.push(client);
    return new EventRecorder(client, { conversationId, afterSeq });
  };
  const RESPOND = 'mutation ($input: RespondToAgentInput!) { respondToAgent(input: $input) { status } }';
  const endOf = (sent: SentRun) => (events: AgentEvent[]) => events.some((event) => event.runId === sent.runId && isTerminal(event));

  it('delivers every event once and in order, seqs continuing, and the next run numbers on', { timeout: 60_000 }, async () => {
    const token = await tokenFor(`shard-${randomUUID()}`);
    const sent = await send(a.url, token, { text: 'transfer shard-1', target: { kind: 'LIAISON', agentId: approver.id } });
    const live = subscribe(b, token, sent.conversationId, sent.afterSeq);
    const asked = await live.until((events) => events.some((event) => event.__typename === 'AgentInputRequested'), 'the approval request');
    const request = asked.find((event) => event.__typename === 'AgentInputRequested')!.request;

    const holding = [...(await cluster.keysPerPrimary(prefix))].find(([, keys]) => keys.some((key) => key.includes(`{${sent.conversationId}}`)))?.[0];
    if (!holding) throw new Error('no primary holds the conversation');
    const admin = createClient({ url: holding });
    await admin.connect();
    try {
      await admin.flushAll();
    } finally {
      admin.destroy();
    }

    const answered = await userClient(b.url, token)(RESPOND, { input: { requestId: request.id, approved: true } });
    expect(answered.errors, JSON.stringify(answered.errors)).toBeUndefined();
    const run = await live.until(endOf(sent), 'the end of the run');
    expectGapless(run, sent.afterSeq + 1);
    expectRunInvariants(run, sent);
    const terminal = run.at(-1)!;
    expect(terminal.__typename).toBe('AgentCompleted');

    const next = await send(a.url, token, { text: 'Hello again', conversationId: sent.conversationId });
    expect(next.afterSeq).toBe(terminal.seq);
    const both = await live.until(endOf(next), 'the end of the next run');
    expectGapless(both, sent.afterSeq + 1);
    expectRunInvariants(
      both.filter((event) => event.runId === next.runId),
      next,
    );
    // A replay from the start, through the other instance, is what the subscriber was given.
    const replay = subscribe(a, token, sent.conversationId, sent.afterSeq);
    expect(await replay.until((events) => events.length === both.length, 'the replay')).toEqual(both);
  });
});
