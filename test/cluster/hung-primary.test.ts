/**
 * A primary that hangs (a stopped process: its connections stay open and it answers nothing)
 * rather than dies. Its replica takes over once the other nodes count it failed, but a process
 * hears nothing to tell it so: no connection drops and no node answers MOVED. A command that
 * gets no reply has it look at the cluster's map again, asked of a primary that answers, so
 * that the next commands for those slots go to the replica that took over.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis/connection.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';

describe('a Redis Cluster whose primary hangs', () => {
  let cluster: TestRedisCluster;
  let connection: RedisConnection;
  const prefix = `agw-test-${randomUUID()}:`;

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    connection = new RedisConnection({ clusterNodes: cluster.urls, keyPrefix: prefix, commandTimeoutMs: 1000 });
    await connection.connect();
  });
  afterAll(async () => {
    await connection?.close();
    await cluster?.stop();
  });

  it('sends the commands after one that got no reply to the replica that took over', { timeout: 60_000 }, async () => {
    // The primary the client would ask about the map first, were it chosen by its connection
    // alone: a key of its, so that the hung one is the first asked unless it is passed over.
    const first = (connection as unknown as { link: { cluster: { masters: { address: string }[] } } }).link.cluster.masters[0]!.address;
    const holder = `redis://${first}`;
    for (let n = 0; n < 40; n += 1) await connection.command(['SET', connection.key(`probe-${n}`), 'stored']);
    const key = (await cluster.keysPerPrimary(prefix)).get(holder)?.[0];
    if (!key) throw new Error(`none of 40 keys is on ${holder}`);
    // On the replica too before its primary hangs.
    expect(await connection.command(['WAIT', '1', '5000'], key)).toBe(1);

    cluster.freeze(holder);
    await cluster.untilFailedOver(holder);

    // Nothing has told the process: this command goes to the hung primary and gets no reply.
    await expect(connection.command(['GET', key])).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(await connection.command(['GET', key])).toBe('stored');
  });
});
