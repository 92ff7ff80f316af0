/**
 * Workers claim intents with a blocking read on a connection of their own, which has its own map
 * of the cluster's slots. When the primary holding the intents hangs (see hung-primary.test.ts),
 * a claim that gets no reply has that map asked for again too, so that the next claim reads
 * from the replica that took over instead of timing out for as long as the primary stays hung.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis/connection.ts';
import { RedisIntentQueue } from '../../src/store/redis/intent-queue.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';

describe('claiming intents when the primary holding them hangs', () => {
  let cluster: TestRedisCluster;
  let connection: RedisConnection;
  const prefix = `agw-test-${randomUUID()}:`;

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    connection = new RedisConnection({ clusterNodes: cluster.urls, keyPrefix: prefix, commandTimeoutMs: 1000 });
    await connection.connect();
  }, 60_000);
  afterAll(async () => {
    await connection?.close();
    await cluster?.stop();
  });

  it('claims from the replica that took over after a claim that got no reply', { timeout: 60_000 }, async () => {
    const queue = new RedisIntentQueue(connection);
    await queue.append({ runId: 'before', conversationId: 'c1' });
    const [before] = await queue.claim('worker', 1, 100);
    await queue.ack(before!.entryId);
    // The stream and its group on the replica too before its primary hangs.
    expect(await connection.command(['WAIT', '1', '5000'], connection.keys.intents)).toBe(1);
    const holder = [...(await cluster.keysPerPrimary(prefix))].find(([, keys]) => keys.includes(connection.keys.intents))?.[0];
    if (!holder) throw new Error('no primary holds the intents');

    cluster.freeze(holder);
    await cluster.untilFailedOver(holder);

    // The command connection finds out at its first command with no reply (hung-primary.test.ts).
    await expect(queue.append({ runId: 'lost', conversationId: 'c1' })).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    await queue.append({ runId: 'after', conversationId: 'c1' });
    // The claiming connection has heard nothing either: its read goes to the hung primary.
    await expect(queue.claim('worker', 1, 100)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect((await queue.claim('worker', 1, 100)).map((intent) => intent.runId)).toEqual(['after']);
    await queue.close();
  });
});
