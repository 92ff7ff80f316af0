/**
 * A run that streams a burst of tokens, executed by gateway A and followed over graphql-ws
 * through A and through B (two gateways on one Redis): its events reach both whole, once and in
 * order, and Redis numbered them in a handful of script calls rather than one per event.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import type { RunningServer } from '../../src/server.ts';
import { tokenFor } from '../support/clients.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { expectGapless, expectRunInvariants, followRun, send } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const DELTAS = Array.from({ length: 100 }, (_, i) => `word${i + 1} `);

/** Streams its reply as a model's chunk of many deltas arrives: one after the other, at once. */
const burst: AgentDefinition = {
  id: 'test.burst',
  kind: 'LIAISON',
  pillar: null,
  name: 'Burst',
  description: 'Streams a hundred deltas at once.',
  async run(context) {
    for (const delta of DELTAS) await context.stream(delta);
  },
};

describe('a run appended in batches, followed through two gateways', () => {
  let redis: TestRedis;
  let admin: ReturnType<typeof createClient>;
  let listener: ReturnType<typeof createClient>;
  /** The events each notification on a conversation's channel carried (one body a line). */
  const notifications: number[] = [];
  let A: RunningServer;
  let B: RunningServer;

  beforeAll(async () => {
    redis = await startRedis();
    admin = createClient({ url: redis.url });
    listener = admin.duplicate();
    await Promise.all([admin.connect(), listener.connect()]);
    const prefix = `batched-${randomUUID()}:`;
    await listener.pSubscribe(`${prefix}c:*:bell`, (message) => notifications.push(message.split('\n').length));
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix };
    [A, B] = await Promise.all([startTestServer(env, { agents: [burst] }), startTestServer(env, { agents: [burst] })]);
  });
  afterAll(async () => {
    await Promise.all([A?.close(), B?.close()]);
    admin?.destroy();
    listener?.destroy();
    await redis?.stop();
  });

  /** Polls (every 10 ms) for what has no event to await: notifications reach our listener in their own time. */
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise((resolve) => setTimeout(resolve, 10));
  };

  /** Calls of a command since the last CONFIG RESETSTAT, those made by scripts included. */
  const calls = async (command: string) => {
    const info = String(await admin.sendCommand(['INFO', 'commandstats']));
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  };

  it('delivers every event once and in order through both, appended in far fewer script calls than events', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    await admin.sendCommand(['CONFIG', 'RESETSTAT']);
    const sent = await send(A.url, token, { text: 'go', target: { kind: 'LIAISON', agentId: burst.id } });
    const [throughA, throughB] = await Promise.all([followRun(A.url, token, sent), followRun(B.url, token, sent)]);
    expect(throughB).toEqual(throughA);
    expectRunInvariants(throughB, sent);
    expectGapless(throughB, sent.afterSeq + 1);
    expect(throughB.filter((event) => event.__typename === 'AgentToken').map((event) => event.delta)).toEqual(DELTAS);
    // MessageCreated, AgentStarted, the tokens and AgentCompleted: one XADD each, but one
    // notification (and one script call) per batch: the send's, AgentStarted's, the first
    // token's alone, the other 99 queued meanwhile, and the terminal event's.
    expect(throughB).toHaveLength(DELTAS.length + 3);
    expect(await calls('xadd')).toBe(throughB.length);
    await until(() => notifications.reduce((sum, count) => sum + count, 0) === throughB.length);
    expect(notifications.length).toBeLessThanOrEqual(5);
    expect(await calls('evalsha')).toBeLessThan(throughB.length);
  });
});
