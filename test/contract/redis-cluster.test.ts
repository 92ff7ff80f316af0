/**
 * What only a Redis Cluster has to show: each conversation's keys in one slot, conversations
 * spread over every primary, and pub/sub as a doorbell that may be missed without an event lost,
 * also when a conversation's slot moves to another primary, or when the primary holding it
 * loses its data.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { collect, helloRun, helloSend, postgresClusterWorld, token, until, type Instances } from './worlds.ts';

const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('the live layer on a Redis Cluster', () => {
  const world = postgresClusterWorld();
  const opened: Instances[] = [];
  const fresh = async () => {
    const instances = await world.instances();
    opened.push(instances);
    return instances;
  };
  /** What a conversation's keys and channel start with, under the instances' key prefix. */
  const prefixOf = async (instances: Instances, conversationId: string) => {
    await instances.a.events.append(token(conversationId, 'probe'));
    const all = [...(await world.cluster().keysPerPrimary('')).values()].flat();
    const key = all.find((name) => name.includes(`c:{${conversationId}}`));
    if (!key) throw new Error('the conversation left no key');
    return key.slice(0, key.indexOf('c:{'));
  };

  beforeAll(() => world.setup());
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((instances) => instances.close()));
  });
  afterAll(() => world.teardown());

  it('keeps each conversation in one slot and spreads 30 conversations over all three primaries', async () => {
    const instances = await fresh();
    const prefix = await prefixOf(instances, randomUUID());
    const conversations = Array.from({ length: 30 }, () => randomUUID());
    // Each a send (its run's lease in Redis) and an event (in the hot tail), through either instance.
    for (const conversationId of conversations) {
      await instances.b.sends.commit(helloSend(helloRun(conversationId)));
      await instances.a.events.append(token(conversationId, 'hello'));
    }
    const perPrimary = await world.cluster().keysPerPrimary(prefix);
    expect(perPrimary.size).toBe(3);
    const ofConversations = [...perPrimary.values()].map((keys) => keys.filter((key) => conversations.some((id) => key.includes(`{${id}}`))));
    // Every primary holds some of them; together, each conversation exactly once (its keys in one place).
    for (const keys of ofConversations) expect(keys.length).toBeGreaterThan(0);
    const owners = conversations.map((id) => ofConversations.filter((keys) => keys.some((key) => key.includes(`{${id}}`))).length);
    expect(owners).toEqual(conversations.map(() => 1));
    // The leases' keys share one slot, so one primary holds all of them.
    const leaseHolders = [...perPrimary.values()].filter((keys) => keys.some((key) => key.startsWith(`${prefix}{leases}`)));
    expect(leaseHolders).toHaveLength(1);
  });

  it('loses no event when the sharded pub/sub deliveries are cut: the follower sees the gap by seq and reads it', async () => {
    const instances = await fresh();
    const { a, b } = instances;
    const conversationId = randomUUID();
    await a.events.append(token(conversationId, 'first'));
    const follower = collect(b, conversationId, 0, 41);
    await until(async () => (follower.events.length === 1 ? true : undefined), 'the first event');
    const primaries = await connectToPrimaries(world.cluster().urls);
    try {
      const subscribed = async () => (await Promise.all(primaries.map((admin) => pubSubClients(admin)))).reduce((sum, count) => sum + count, 0);
      await until(async () => ((await subscribed()) > 0 ? true : undefined), 'the sharded subscription');
      // Drop every pub/sub connection and keep them out while events are appended (no new
      // connection is let in; those open stay): their doorbells ring for nobody, nothing follows.
      await Promise.all(
        primaries.map(async (admin) => {
          await admin.sendCommand(['CONFIG', 'SET', 'maxclients', '1']);
          await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
        }),
      );
      try {
        expect(await subscribed()).toBe(0);
        for (let i = 2; i <= 21; i += 1) await a.events.append(token(conversationId, `d${i}`));
        expect(follower.events).toHaveLength(1);
      } finally {
        await Promise.all(primaries.map((admin) => admin.sendCommand(['CONFIG', 'SET', 'maxclients', '10000'])));
      }
      // Once b has subscribed again, its follower learns of what it missed, and follows on.
      await until(async () => (follower.events.length === 21 ? true : undefined), 'the missed events');
      for (let i = 22; i <= 41; i += 1) await a.events.append(token(conversationId, `d${i}`));
      const events = await follower.done;
      expect(events.map((event) => event.seq)).toEqual(seqs(1, 41));
      expect(events.slice(1).map((event) => event.type === 'AgentToken' && event.delta)).toEqual(seqs(2, 41).map((i) => `d${i}`));
    } finally {
      for (const admin of primaries) admin.destroy();
    }
  });

  it('follows a conversation whose slot moves to another primary (resharding), with no event lost', async () => {
    const instances = await fresh();
    const { a, b } = instances;
    const conversationId = randomUUID();
    const prefix = await prefixOf(instances, conversationId);
    const follower = collect(b, conversationId, 0, 21);
    await until(async () => (follower.events.length === 1 ? true : undefined), 'the first event');
    const perPrimary = [...(await world.cluster().keysPerPrimary(prefix))];
    const owner = perPrimary.find(([, keys]) => keys.some((key) => key.includes(`{${conversationId}}`)))![0];
    // Its subscription on the old owner ends there; node-redis 5 alone would not make it again.
    await world.cluster().migrateSlotOf(`${prefix}c:{${conversationId}}:bell`, perPrimary.find(([url]) => url !== owner)![0]);
    for (let i = 2; i <= 21; i += 1) await a.events.append(token(conversationId, `d${i}`));
    expect((await follower.done).map((event) => event.seq)).toEqual(seqs(1, 21));
  });

  it('keeps followers going from PostgreSQL when the primary holding the conversation loses its data, seqs numbered on', async () => {
    const instances = await fresh();
    const { a, b } = instances;
    const conversationId = randomUUID();
    const prefix = await prefixOf(instances, conversationId);
    const follower = collect(b, conversationId, 0, 40);
    for (let i = 2; i <= 20; i += 1) await a.events.append(token(conversationId, `d${i}`));
    await until(async () => (follower.events.length === 20 ? true : undefined), 'the events before the flush');
    const holding = async () =>
      [...(await world.cluster().keysPerPrimary(prefix))].find(([, keys]) => keys.some((key) => key.includes(`{${conversationId}}`)))?.[0];
    const owner = (await holding())!;
    const admin = createClient({ url: owner });
    await admin.connect();
    try {
      await admin.flushAll();
    } finally {
      admin.destroy();
    }
    // Its hot tail is gone: only PostgreSQL knows the conversation now.
    expect(await holding()).toBeUndefined();

    for (let i = 21; i <= 40; i += 1) await a.events.append(token(conversationId, `d${i}`));
    const events = await follower.done;
    expect(events.map((event) => event.seq)).toEqual(seqs(1, 40));
    expect(events.slice(1).map((event) => event.type === 'AgentToken' && event.delta)).toEqual(seqs(2, 40).map((i) => `d${i}`));
    // The tail began anew after the flush; a follow from the start reads what it lacks from PostgreSQL.
    const late = await collect(a, conversationId, 0, 40).done;
    expect(late).toEqual(events);
  });
});

async function connectToPrimaries(urls: readonly string[]) {
  const primaries: ReturnType<typeof createClient>[] = [];
  for (const url of urls) {
    const client = createClient({ url, socket: { reconnectStrategy: 50 } });
    client.on('error', () => undefined);
    await client.connect();
    if (/^role:master\b/m.test(String(await client.sendCommand(['INFO', 'replication'])))) primaries.push(client);
    else client.destroy();
  }
  return primaries;
}

/** How many pub/sub connections (sharded ones included) the node has. */
async function pubSubClients(admin: ReturnType<typeof createClient>): Promise<number> {
  const list = String(await admin.sendCommand(['CLIENT', 'LIST', 'TYPE', 'pubsub']));
  return list.split('\n').filter((line) => line.trim() !== '').length;
}
