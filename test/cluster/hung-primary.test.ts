/**
 * A primary that hangs (a stopped process: its connections stay open and it answers nothing)
 * rather than dies. Its replica takes over once the other nodes count it failed, but a process
 * hears nothing to tell it so: no connection drops and no node answers MOVED. A command or a
 * health check that gets no reply has it look at the cluster's map again, asked of a primary
 * that answers, so that its commands and subscriptions of those slots move to the replica that
 * took over.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis/connection.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';

describe('a Redis Cluster whose primary hangs', () => {
  let cluster: TestRedisCluster;
  /** A process that sends commands. */
  let commands: RedisConnection;
  /** A process that only listens, on a channel of the hung primary's slots. */
  let listening: RedisConnection;
  const heard: string[] = [];
  const prefix = `agw-test-${randomUUID()}:`;
  let key: string;

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    const options = { clusterNodes: cluster.urls, keyPrefix: prefix, commandTimeoutMs: 1000 };
    [commands, listening] = [new RedisConnection(options), new RedisConnection(options)];
    await Promise.all([commands.connect(), listening.connect()]);

    // The primary the client would ask about the map first, were it chosen by its connection
    // alone: a key of its, so that the hung one is the first asked unless it is passed over.
    const first = (commands as unknown as { link: { cluster: { masters: { address: string }[] } } }).link.cluster.masters[0]!.address;
    const holder = `redis://${first}`;
    for (let n = 0; n < 40; n += 1) await commands.command(['SET', commands.key(`probe-${n}`), 'stored']);
    const held = (await cluster.keysPerPrimary(prefix)).get(holder)?.[0];
    if (!held) throw new Error(`none of 40 keys is on ${holder}`);
    key = held;
    // On the replica too before its primary hangs.
    expect(await commands.command(['WAIT', '1', '5000'], key)).toBe(1);
    // A channel lives in its name's slot, as a key does.
    await new Promise<void>((resolve) => {
      const stop = listening.onSubscribed((channel) => channel === key && (stop(), resolve()));
      listening.listen(key, (message) => heard.push(message));
    });

    cluster.freeze(holder);
    await cluster.untilFailedOver(holder);
  }, 60_000);
  afterAll(async () => {
    await commands?.close();
    await listening?.close();
    await cluster?.stop();
  });

  it('sends the commands after one that got no reply to the replica that took over', async () => {
    // Nothing has told the process: this command goes to the hung primary and gets no reply.
    await expect(commands.command(['GET', key])).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(await commands.command(['GET', key])).toBe('stored');
  });

  it('subscribes again on the replica that took over once a health check got no reply', async () => {
    const subscribedAgain = new Promise<void>((resolve) => {
      const stop = listening.onSubscribed((channel) => channel === key && (stop(), resolve()));
    });
    await expect(listening.ping()).rejects.toThrow(/did not answer/);
    await subscribedAgain;
    // The sender's own map may still name the hung primary (without the test before this one).
    await commands.command(['GET', key]).catch(() => undefined);
    await commands.publish(key, 'after the failover');
    await expect.poll(() => heard).toEqual(['after the failover']);
  });
});
