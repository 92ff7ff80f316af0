/**
 * What only a Redis Cluster has to show: each conversation's keys in one slot, conversations
 * spread over every primary, and pub/sub as a doorbell that may be missed without an event lost,
 * also when a conversation's slot moves to another primary, or when the primary holding it
 * loses its data. Then the Redis store of record on a cluster: every key of a conversation (its
 * runs, messages, input requests and idempotency records too) in its one slot, sends with one
 * idempotency key stored once whoever sends them at once, and a deletion that leaves nothing of
 * the conversation behind.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, createCluster } from 'redis';
import type { RunRecord } from '../../src/domain/records.ts';
import type { NewSend } from '../../src/store/interfaces.ts';
import { RedisConnection } from '../../src/store/redis/connection.ts';
import { createRedisBackend } from '../../src/store/redis/index.ts';
import {
  BACKEND_SETTINGS,
  DEFAULT_RETENTION,
  collect,
  helloRun,
  helloSend,
  inputRequest,
  postgresClusterWorld,
  redisClusterWorld,
  token,
  until,
  type Instances,
} from './worlds.ts';

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
      // The conversation's own channel, not just any pub/sub connection (the instances have
      // others): until b has subscribed to it, its connection may still be on its way, and one
      // that is let in before the cut and subscribes after it would hear what follows.
      const listened = async () =>
        (await Promise.all(primaries.map((admin) => admin.sendCommand(['PUBSUB', 'SHARDCHANNELS', `*{${conversationId}}*`]) as Promise<string[]>))).flat()
          .length;
      await until(async () => ((await listened()) > 0 ? true : undefined), "the sharded subscription to the conversation's channel");
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
        expect(await listened()).toBe(0);
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

  it('is not ready while it is still learning which primary holds which slot', async () => {
    const connection = new RedisConnection({ clusterNodes: world.cluster().urls, keyPrefix: `ready-${randomUUID()}:` });
    try {
      const connecting = connection.connect();
      // node-redis counts the cluster open as soon as it starts to connect, before it knows any primary.
      expect(connection.isReady).toBe(false);
      await expect(connection.ping()).rejects.toThrow(/not connected/);
      await expect(connection.command(['GET', connection.key('probe')])).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      await connecting;
      expect(connection.isReady).toBe(true);
      await connection.ping();
      expect(await connection.command(['GET', connection.key('probe')])).toBeNull();
    } finally {
      await connection.close();
    }
  });

  it('stays ready while the subscription connection to a primary opens for the first time', async () => {
    const connection = new RedisConnection({ clusterNodes: world.cluster().urls, keyPrefix: `ready-${randomUUID()}:` });
    try {
      await connection.connect();
      await connection.ping();
      const subscribed = new Promise((resolve) => connection.onSubscribed(resolve));
      // The first channel opens a sharded subscription connection to the primary of its slot.
      connection.listen(connection.key('first-channel'), () => undefined);
      expect(connection.isReady).toBe(true);
      await connection.ping();
      expect(await subscribed).toBe(connection.key('first-channel'));
      await connection.ping();
    } finally {
      await connection.close();
    }
  });
});

describe('the Redis store of record on a Redis Cluster', () => {
  const world = redisClusterWorld();
  const opened: Instances[] = [];
  const fresh = async () => {
    const instances = await world.instances();
    opened.push(instances);
    return instances;
  };
  let admin: ReturnType<typeof createClient>;
  /** Every key of the cluster whose name starts with `prefix`. */
  const keysOf = async (prefix: string) => [...(await world.cluster().keysPerPrimary(prefix)).values()].flat();
  const slotOf = async (key: string) => Number(await admin.sendCommand(['CLUSTER', 'KEYSLOT', key]));
  /** A send with an idempotency key, into `conversationId` (new or not). */
  const keyedSend = (conversationId: string, idempotencyKey: string): NewSend & { run: RunRecord } => ({
    ...helloSend(helloRun(conversationId), { holder: 'gateway-a', ttlMs: 60_000 }),
    idempotencyKey,
  });

  beforeAll(async () => {
    await world.setup();
    admin = createClient({ url: world.cluster().urls[0] });
    admin.on('error', () => undefined);
    await admin.connect();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((instances) => instances.close()));
  });
  afterAll(async () => {
    admin?.destroy();
    await world.teardown();
  });

  it('keeps every key of each of 30 conversations (runs, messages, input requests, idempotency) in its one slot, spread over all three primaries', async () => {
    const { a, b } = await fresh();
    const conversations = Array.from({ length: 30 }, () => randomUUID());
    const stored = new Map<string, { run: RunRecord; messageId: string; requestId: string }>();
    for (const conversationId of conversations) {
      const send = keyedSend(conversationId, `send:${randomUUID()}`);
      expect((await b.sends.commit(send)).outcome).toBe('stored');
      await a.events.append(token(conversationId, 'hello', send.run.id));
      const request = await a.inputs.open(inputRequest(send.run));
      stored.set(conversationId, { run: send.run, messageId: send.message.id, requestId: request.id });
    }
    const prefix = (await keysOf('')).find((key) => key.includes(`c:{${conversations[0]}}`))!.split('c:{')[0]!;
    const perPrimary = await world.cluster().keysPerPrimary(prefix);
    expect(perPrimary.size).toBe(3);
    for (const conversationId of conversations) {
      const { run, messageId, requestId } = stored.get(conversationId)!;
      const tagged = `${prefix}c:{${conversationId}}`;
      const own = [...perPrimary.values()].map((keys) => keys.filter((key) => key.startsWith(tagged)));
      // On one primary, in one slot: its hash, log, queue, runs, messages, requests, idempotency.
      expect(own.filter((keys) => keys.length > 0)).toHaveLength(1);
      const keys = own.flat();
      for (const record of [`${tagged}:run:${run.id}`, `${tagged}:msg:${messageId}`, `${tagged}:input:${requestId}`, `${tagged}:ev`])
        expect(keys).toContain(record);
      expect(keys.some((key) => key.startsWith(`${tagged}:idem:send:`))).toBe(true);
      expect(new Set(await Promise.all(keys.map(slotOf))).size).toBe(1);
      // Found by id alone, through the other instance.
      expect((await a.runs.get(run.id))?.conversationId).toBe(conversationId);
      expect((await a.messages.get(messageId))?.conversationId).toBe(conversationId);
      expect((await b.inputs.get(requestId))?.conversationId).toBe(conversationId);
    }
    for (const keys of perPrimary.values()) expect(keys.filter((key) => conversations.some((id) => key.includes(`{${id}}`))).length).toBeGreaterThan(0);
    // A run's lease fences its appends from the conversation's own slot.
    const { run } = stored.get(conversations[0]!)!;
    const epoch = await a.leases.acquire(run.id, run.conversationId, 'gateway-b', 60_000);
    await a.events.append(token(run.conversationId, 'fenced', run.id), epoch);
    expect(await slotOf(`${prefix}c:{${run.conversationId}}:fence`)).toBe(await slotOf(`${prefix}c:{${run.conversationId}}`));
    expect(await keysOf(`${prefix}c:{${run.conversationId}}:fence`)).toHaveLength(1);
  });

  /** Claims the route of idempotency key `key` for `conversationId`, as a sender that did so `claimedMsAgo` ago and stored nothing yet. */
  const claimRoute = async (backend: Instances['a'], key: string, conversationId: string, claimedMsAgo: number) => {
    const cluster = await clusterClient(world.cluster().urls);
    try {
      await cluster.set(`${await prefixOf(backend)}idem:${key}`, `${conversationId} its-claim`, { PX: BACKEND_SETTINGS.idempotencyTtlMs - claimedMsAgo });
    } finally {
      await cluster.close();
    }
  };

  it('stores sends with one idempotency key once, sent at once through two instances, into a new conversation each or into one', async () => {
    const { a, b } = await fresh();
    for (let round = 0; round < 10; round += 1) {
      const key = `send:alice:${randomUUID()}`;
      const shared = randomUUID();
      // Half name one conversation, half a new one each, as repeats of a first send do.
      const sends = Array.from({ length: 6 }, (_, i) => keyedSend(i % 2 === 0 ? shared : randomUUID(), key));
      const outcomes = await Promise.all(sends.map((send, i) => (i % 3 === 0 ? a : b).sends.commit(send)));
      const winners = outcomes.filter((outcome) => outcome.outcome === 'stored');
      expect(winners).toHaveLength(1);
      const winner = sends[outcomes.findIndex((outcome) => outcome.outcome === 'stored')]!;
      for (const outcome of outcomes) {
        if (outcome.outcome === 'stored') continue;
        expect(outcome).toEqual({
          outcome: 'repeated',
          stored: { conversationId: winner.conversation.id, messageId: winner.message.id, runId: winner.run.id },
        });
      }
      expect((await a.runs.listLast(winner.conversation.id, 10)).map((run) => run.id)).toEqual([winner.run.id]);
      expect(await b.messages.listLast(winner.conversation.id, 10)).toHaveLength(1);
      // The conversations of the repeats were never made, and their runs hold no lease.
      for (const send of sends.filter((each) => each.conversation.id !== winner.conversation.id)) {
        expect(await a.conversations.get(send.conversation.id)).toBeNull();
        expect(await a.runs.get(send.run.id)).toBeNull();
        expect(await a.leases.renew(send.run.id, 'gateway-a', 60_000)).toBe(false);
      }
    }
  });

  it('takes over an idempotency key whose first sender died between claiming it and storing its send, and answers that sender with what was stored', async () => {
    const { a, b } = await fresh();
    const key = `send:alice:${randomUUID()}`;
    const first = keyedSend(randomUUID(), key);
    // The first sender claimed the key's route for its conversation a minute ago, and stored nothing.
    await claimRoute(a, key, first.conversation.id, 60_000);
    const repeat = keyedSend(randomUUID(), key);
    expect((await b.sends.commit(repeat)).outcome).toBe('stored');
    // The first sender comes back (here through its own instance): its claim was voided.
    expect(await a.sends.commit(first)).toEqual({
      outcome: 'repeated',
      stored: { conversationId: repeat.conversation.id, messageId: repeat.message.id, runId: repeat.run.id },
    });
    expect(await a.conversations.get(first.conversation.id)).toBeNull();
  });

  it('waits for a claim on an idempotency key made a moment ago rather than take the key over, and answers with what its sender stored', async () => {
    const { a, b } = await fresh();
    const key = `send:alice:${randomUUID()}`;
    const first = keyedSend(randomUUID(), key);
    // The first sender has just claimed the key's route for its conversation, and is about to commit.
    await claimRoute(a, key, first.conversation.id, 0);
    const second = keyedSend(randomUUID(), key);
    const repeat = b.sends.commit(second);
    // The repeat has begun (its run is leased: next it finds the claim), and the first sender commits
    // under its claim (found on the route, as a sender that claimed it would).
    await until(async () => ((await a.leases.renew(second.run.id, 'gateway-a', 60_000)) ? true : undefined), "the repeat's start");
    expect((await a.sends.commit(first)).outcome).toBe('stored');
    expect(await repeat).toEqual({
      outcome: 'repeated',
      stored: { conversationId: first.conversation.id, messageId: first.message.id, runId: first.run.id },
    });
  });

  it('answers ping only once it knows the slots, when it connects in the background: then commands are served', async () => {
    const backend = await createRedisBackend(
      { clusterNodes: world.cluster().urls },
      { ...BACKEND_SETTINGS, retention: DEFAULT_RETENTION, keyPrefix: `t-${randomUUID()}:`, waitForConnection: false },
    );
    try {
      await until(async () => ((await backend.ping()) === undefined ? true : undefined), 'the cluster');
      expect(await backend.conversations.get(randomUUID())).toBeNull();
    } finally {
      await backend.close();
    }
  });

  it('leaves no key of a deleted conversation behind: records, indexes, idempotency routes, owner list, due requests', async () => {
    const { a, b } = await fresh();
    const prefix = await prefixOf(a);
    const shared = new Set(['{leases}', '{leases}:info', '{leases}:epoch', '{leases}:epochs', 'generation'].map((name) => prefix + name));
    const before = (await keysOf(prefix)).filter((key) => !shared.has(key)).sort();
    const conversationId = randomUUID();
    for (let i = 0; i < 3; i += 1) {
      const send = keyedSend(conversationId, `send:alice:${randomUUID()}`);
      expect((await a.sends.commit(send)).outcome).toBe('stored');
      await a.inputs.open(inputRequest(send.run));
      const epoch = await b.leases.acquire(send.run.id, conversationId, 'gateway-b', 60_000);
      await b.events.append(token(conversationId, 'Hi', send.run.id), epoch);
      await a.runQueue.remove(conversationId, send.run.id);
    }
    expect((await keysOf(prefix)).length).toBeGreaterThan(before.length + 3 * 5);
    expect(await b.deleteConversation(conversationId)).toBe(true);
    expect((await keysOf(prefix)).filter((key) => !shared.has(key)).sort()).toEqual(before);
  });

  /** The key prefix of an instance's keys: of the conversation one send leaves. */
  async function prefixOf(on: Instances['a']): Promise<string> {
    const conversationId = randomUUID();
    await on.events.append(token(conversationId, 'probe'));
    const key = (await keysOf('')).find((name) => name.includes(`c:{${conversationId}}`));
    if (!key) throw new Error('the conversation left no key');
    return key.slice(0, key.indexOf('c:{'));
  }
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

/** A client of the whole cluster, for writing a key wherever its slot is. */
async function clusterClient(urls: readonly string[]) {
  const cluster = createCluster({ rootNodes: urls.map((url) => ({ url })) });
  cluster.on('error', () => undefined);
  await cluster.connect();
  return { set: (key: string, value: string, options?: { PX: number }) => cluster.set(key, value, options), close: () => cluster.close() };
}
