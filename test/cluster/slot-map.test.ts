/**
 * A process's map of which primary serves which slots, after a primary dies and its replica
 * takes over: commands for those slots reach the new primary as soon as the cluster agrees,
 * not only once the process next tries to reconnect to the dead one (up to a second later, and
 * longer on a busy machine), which answered them SERVICE_UNAVAILABLE meanwhile.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis/connection.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';

describe("a process's map of a Redis Cluster's slots after a failover", () => {
  let cluster: TestRedisCluster;
  let connection: RedisConnection;
  const prefix = `agw-test-${randomUUID()}:`;

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    // Reconnection attempts far apart, as they are a while into an outage.
    connection = new RedisConnection({ clusterNodes: cluster.urls, keyPrefix: prefix, maxReconnectDelayMs: 60_000 });
    await connection.connect();
  });
  afterAll(async () => {
    await connection?.close();
    await cluster?.stop();
  });

  it('sends a command for a dead primary’s slot to the replica that took over, once the cluster agrees', { timeout: 60_000 }, async () => {
    const key = connection.key('probe');
    await connection.command(['SET', key, 'stored']);
    // On the replica too before its primary dies.
    expect(await connection.command(['WAIT', '1', '5000'], key)).toBe(1);
    const holder = [...(await cluster.keysPerPrimary(prefix))].find(([, keys]) => keys.includes(key))?.[0];
    if (!holder) throw new Error('no primary holds the key');

    await cluster.kill(holder);
    await cluster.untilFailedOver(holder);

    expect(await connection.command(['GET', key])).toBe('stored');
  });
});
