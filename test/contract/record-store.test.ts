/**
 * The contract of a store of record (what must last, without the live layer: no fan-out, leases,
 * locks or rate limits), run against every record store "world", each seen through two
 * instances on the same state: for PostgreSQL two pools on one database, as two gateway
 * processes would have; for Redis (one, or a Redis Cluster) two sets of connections under one
 * key prefix; for PGlite (PostgreSQL in this process, on a data folder) two stores on
 * its one connection, as the memory world shares one backend. Then what only PostgreSQL has,
 * on a server and on PGlite: concurrent migrations, recovery's query of active runs, what group
 * commit saves; and how PGlite's one connection serves many callers at once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.ts';
import { LeaseLostError, type RetentionPolicy } from '../../src/store/event-log.ts';
import type { NewEvent } from '../../src/domain/events.ts';
import type { ConversationRecord, MessageRecord, Owner, RunRecord } from '../../src/domain/records.ts';
import { createMemoryBackend } from '../../src/store/memory/index.ts';
import {
  createPostgresRecordStore,
  migrate,
  MIGRATIONS,
  pgliteSql,
  postgresPool,
  type Migration,
  type PostgresRecordStore,
  type PostgresRecordStoreOptions,
  type Sql,
} from '../../src/store/postgres/index.ts';
import { dataFolderUrl, freshDataFolder, removeDataFolders } from '../support/pglite.ts';
import { startPostgres, type TestPostgres } from '../support/postgres-server.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { createRedisBackend, type RedisTarget } from '../../src/store/redis/index.ts';
import type { Backend, NewSend } from '../../src/store/interfaces.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, helloRun, helloSend, token, until } from './worlds.ts';

/** A store of record as the suite sees it: the stores, the log and the fence. */
type RecordStore = Pick<PostgresRecordStore, 'conversations' | 'messages' | 'runs' | 'runQueue' | 'sends' | 'events' | 'fences' | 'ping'>;

interface RecordInstances {
  a: RecordStore;
  b: RecordStore;
  close(): Promise<void>;
}

interface RecordWorld {
  name: string;
  /** Fresh shared state, seen through two instances. */
  instances(options?: { retention?: RetentionPolicy; idempotencyTtlMs?: number }): Promise<RecordInstances>;
}

/** A backend as a store of record, its leases standing in for the fence (an epoch per holder, as `fence` is). */
function fencedByLeases(backend: Backend): RecordStore {
  return {
    ...backend,
    fences: {
      async fence(runId, holder) {
        const run = await backend.runs.get(runId);
        return run ? backend.leases.acquire(runId, run.conversationId, holder, 3600_000) : 0;
      },
    },
  };
}

/** The memory backend's parts. */
const memoryRecordWorld: RecordWorld = {
  name: 'memory',
  async instances({ retention = DEFAULT_RETENTION, idempotencyTtlMs = BACKEND_SETTINGS.idempotencyTtlMs } = {}) {
    const backend = createMemoryBackend(retention, { idempotencyTtlMs });
    const store = fencedByLeases(backend);
    return { a: store, b: store, close: () => backend.close() };
  },
};

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.stop());

const options = (retention = DEFAULT_RETENTION, idempotencyTtlMs = BACKEND_SETTINGS.idempotencyTtlMs) => ({
  retention,
  idempotencyTtlMs,
  historyCacheBytes: BACKEND_SETTINGS.historyCacheBytes,
});

/** A new database, through two pools: the stores migrate it at once, as two instances starting together would. */
const postgresRecordWorld: RecordWorld = {
  name: 'postgres',
  async instances({ retention, idempotencyTtlMs } = {}) {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([
      createPostgresRecordStore(url, options(retention, idempotencyTtlMs)),
      createPostgresRecordStore(url, options(retention, idempotencyTtlMs)),
    ]);
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
  },
};

/**
 * A new data folder, opened once with PGlite: its one connection is shared by both stores (two
 * processes cannot share a folder), which migrate it at once, as two instances would.
 */
const pgliteRecordWorld: RecordWorld = {
  name: 'pglite',
  async instances({ retention, idempotencyTtlMs } = {}) {
    const sql = await pgliteSql(await freshDataFolder());
    const [a, b] = await Promise.all([
      createPostgresRecordStore(sql, options(retention, idempotencyTtlMs)),
      createPostgresRecordStore(sql, options(retention, idempotencyTtlMs)),
    ]);
    return {
      a,
      b,
      close: async () => {
        await Promise.all([a.close(), b.close()]);
        await sql.close();
      },
    };
  },
};
afterAll(() => removeDataFolders());

let redis: TestRedis | undefined;
let cluster: TestRedisCluster | undefined;
afterAll(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

/**
 * The Redis backend on one Redis or on a Redis Cluster (started when first used), through two
 * sets of connections; its leases stand in for the fence, as the memory world's do.
 */
function redisRecordWorld(name: string, target: () => Promise<RedisTarget>): RecordWorld {
  return {
    name,
    async instances({ retention = DEFAULT_RETENTION, idempotencyTtlMs = BACKEND_SETTINGS.idempotencyTtlMs } = {}) {
      const on = await target();
      const keyPrefix = `test-${randomUUID()}:`;
      const made = await Promise.all([0, 1].map(() => createRedisBackend(on, { ...BACKEND_SETTINGS, retention, idempotencyTtlMs, keyPrefix })));
      return { a: fencedByLeases(made[0]!), b: fencedByLeases(made[1]!), close: async () => void (await Promise.all(made.map((backend) => backend.close()))) };
    },
  };
}

const redisOnlyRecordWorld = redisRecordWorld('redis', async () => {
  redis ??= await startRedis();
  return redis.url;
});
const redisClusterRecordWorld = redisRecordWorld('redis+cluster', async () => {
  cluster ??= await startRedisCluster();
  return { clusterNodes: cluster.urls };
});

const alice: Owner = { userId: 'alice', tenantId: null };
const bob: Owner = { userId: 'bob', tenantId: null };

const iso = (ms: number) => new Date(Date.UTC(2030, 0, 1) + ms).toISOString();

function conversation(id: string, owner: Owner, at = 0): ConversationRecord {
  return { id, owner, title: null, createdAt: iso(at), updatedAt: iso(at) };
}

function message(conversationId: string, seq: number, text = `message ${seq}`): MessageRecord {
  return { id: randomUUID(), conversationId, role: 'USER', text, agentId: null, runId: null, seq, createdAt: iso(seq) };
}

/** A queued run of alice's, its input holding nested values of every JSON kind. */
function run(conversationId: string, overrides: Partial<RunRecord> = {}): RunRecord {
  const context = { files: [], nested: { list: [1, 2.5, 'three'], empty: {}, big: 12345678901234567168, nothing: null, quote: 'a "b" \\ \u0000 é' } };
  return helloRun(conversationId, { owner: alice, createdAt: iso(0), input: { text: 'hello', surface: 'HOME', projectId: 'p1', context }, ...overrides });
}

/** What a send through the Experience plane hands the store, with a key of its own. */
function newSend(conversationId: string, overrides: Partial<NewSend> = {}): NewSend {
  const stored = run(conversationId);
  const send = helloSend(stored, { holder: 'gateway-a', ttlMs: 60_000 });
  return {
    ...send,
    idempotencyKey: `send:${randomUUID()}`,
    conversation: conversation(conversationId, alice, 1),
    title: 'Hello',
    message: { ...send.message, text: 'Hello', createdAt: iso(2) },
    maxActiveRuns: 20,
    ...overrides,
  };
}

/** Everything a conversation holds, to show that a refused send stored nothing. */
const contents = async (on: RecordStore, conversationId: string) => ({
  conversation: await on.conversations.get(conversationId),
  lastSeq: await on.events.lastSeq(conversationId),
  events: await on.events.read(conversationId, 0, 100),
  messages: await on.messages.listLast(conversationId, 100),
  runs: await on.runs.listLast(conversationId, 100),
  queue: await on.runQueue.list(conversationId),
});

const deltas = (events: readonly { type: string }[]) => events.map((event) => (event as { delta?: string }).delta);

const recordWorlds = [memoryRecordWorld, redisOnlyRecordWorld, redisClusterRecordWorld, postgresRecordWorld, pgliteRecordWorld];

describe.each(recordWorlds)('the $name store of record', (world) => {
  let instances: RecordInstances;
  let a: RecordStore;
  let b: RecordStore;
  const extra: RecordInstances[] = [];

  const fresh = async (retention?: RetentionPolicy, idempotencyTtlMs?: number) => {
    const made = await world.instances({ retention, idempotencyTtlMs });
    extra.push(made);
    return made;
  };
  // PGlite initializes its first data folder here, which takes a while on a busy machine.
  beforeAll(async () => {
    instances = await world.instances();
    ({ a, b } = instances);
  }, 180_000);
  afterAll(() => instances?.close());
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((made) => made.close()));
  });

  it('answers ping', async () => {
    await expect(a.ping()).resolves.toBeUndefined();
  });

  describe('conversations', () => {
    it('creates a conversation once, whoever asks second gets the stored one', async () => {
      const id = randomUUID();
      expect(await a.conversations.createIfAbsent(conversation(id, alice))).toEqual({ conversation: conversation(id, alice), created: true });
      const second = await b.conversations.createIfAbsent({ ...conversation(id, bob, 5), title: 'other' });
      expect(second).toEqual({ conversation: conversation(id, alice), created: false });
      expect(await b.conversations.get(id)).toEqual(conversation(id, alice));
      expect(await a.conversations.get(randomUUID())).toBeNull();
    });

    it('keeps a title given at creation, and an owner with a tenant', async () => {
      const id = randomUUID();
      const owner = { userId: 'carol', tenantId: 'acme' };
      await a.conversations.createIfAbsent({ ...conversation(id, owner), title: 'Quarterly report' });
      expect(await b.conversations.get(id)).toEqual({ ...conversation(id, owner), title: 'Quarterly report' });
    });

    it('lets exactly one of concurrent creators create', async () => {
      const id = randomUUID();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).conversations.createIfAbsent(conversation(id, i === 0 ? alice : bob))),
      );
      expect(results.filter((result) => result.created)).toHaveLength(1);
      const winner = results.find((result) => result.created)!.conversation;
      expect(results.map((result) => result.conversation)).toEqual(results.map(() => winner));
    });

    it("lists an owner's conversations, most recently updated first", async () => {
      const user: Owner = { userId: randomUUID(), tenantId: null };
      const sameUserOtherTenant: Owner = { userId: user.userId, tenantId: 'acme' };
      const [c1, c2, c3] = [randomUUID(), randomUUID(), randomUUID()];
      await a.conversations.createIfAbsent(conversation(c1, user, 1));
      await b.conversations.createIfAbsent(conversation(c2, user, 2));
      await a.conversations.createIfAbsent(conversation(c3, user, 3));
      await a.conversations.createIfAbsent(conversation(randomUUID(), sameUserOtherTenant, 4));
      await a.conversations.createIfAbsent(conversation(randomUUID(), bob, 5));
      expect((await b.conversations.listForOwner(user, 10)).map((c) => c.id)).toEqual([c3, c2, c1]);
      await b.conversations.touch(c1, iso(10));
      expect((await a.conversations.listForOwner(user, 10)).map((c) => c.id)).toEqual([c1, c3, c2]);
      expect((await a.conversations.listForOwner(user, 2)).map((c) => c.id)).toEqual([c1, c3]);
      expect(await a.conversations.listForOwner(user, 0)).toEqual([]);
      expect(await a.conversations.listForOwner({ userId: randomUUID(), tenantId: null }, 10)).toEqual([]);
      expect(await a.conversations.listForOwner(sameUserOtherTenant, 10)).toHaveLength(1);
    });

    it('touch moves updatedAt forward only and sets the title once', async () => {
      const id = randomUUID();
      await a.conversations.createIfAbsent(conversation(id, alice, 5));
      await b.conversations.touch(id, iso(3), '');
      expect((await a.conversations.get(id))?.title).toBeNull();
      await b.conversations.touch(id, iso(3), 'First title');
      expect(await a.conversations.get(id)).toMatchObject({ updatedAt: iso(5), title: 'First title' });
      await b.conversations.touch(id, iso(9), 'Second title');
      expect(await a.conversations.get(id)).toEqual({ ...conversation(id, alice, 5), updatedAt: iso(9), title: 'First title' });
      const nobody = randomUUID();
      await b.conversations.touch(nobody, iso(9), 'nobody');
      expect(await a.conversations.get(nobody)).toBeNull();
    });
  });

  describe('messages', () => {
    it('stores messages intact and lists the last ones oldest first', async () => {
      const conversationId = randomUUID();
      const stored = [1, 2, 3, 4].map((seq) => message(conversationId, seq));
      stored[1] = { ...stored[1]!, role: 'AGENT', agentId: 'liaison.insights', runId: randomUUID(), text: 'Ünïcode ✓ and "quotes"' };
      for (const [i, each] of stored.entries()) await (i % 2 ? a : b).messages.add(each);
      await a.messages.add(message(randomUUID(), 1));
      expect(await b.messages.listLast(conversationId, 10)).toEqual(stored);
      expect(await b.messages.listLast(conversationId, 2)).toEqual(stored.slice(2));
      expect(await b.messages.listLast(conversationId, 0)).toEqual([]);
      expect(await a.messages.get(stored[1]!.id)).toEqual(stored[1]);
      expect(await a.messages.get(randomUUID())).toBeNull();
    });

    it('orders by seq even when added out of order, and lists up to a seq', async () => {
      const conversationId = randomUUID();
      for (const seq of [1, 3, 2, 5, 4]) await (seq % 2 ? a : b).messages.add(message(conversationId, seq));
      expect((await b.messages.listLast(conversationId, 5)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect((await b.messages.listLast(conversationId, 2, 4)).map((m) => m.seq)).toEqual([3, 4]);
      expect((await b.messages.listLast(conversationId, 10, 2)).map((m) => m.seq)).toEqual([1, 2]);
      expect(await b.messages.listLast(conversationId, 10, 0)).toEqual([]);
    });

    it("lists up to a message's seq, or up to the newest when there is no such message", async () => {
      const conversationId = randomUUID();
      const stored = [1, 2, 3, 4, 5].map((seq) => message(conversationId, seq));
      for (const each of stored) await a.messages.add(each);
      expect((await b.messages.listLastThrough(conversationId, 2, stored[3]!.id)).map((m) => m.seq)).toEqual([3, 4]);
      expect(await b.messages.listLastThrough(conversationId, 10, stored[1]!.id)).toEqual(stored.slice(0, 2));
      expect((await b.messages.listLastThrough(conversationId, 2, randomUUID())).map((m) => m.seq)).toEqual([4, 5]);
      expect(await b.messages.listLastThrough(conversationId, 0, stored[4]!.id)).toEqual([]);
    });
  });

  describe('runs', () => {
    it('stores runs and lists the last ones oldest first, intact', async () => {
      const conversationId = randomUUID();
      const runs = [run(conversationId), run(conversationId, { owner: { userId: 'carol', tenantId: 'acme' } }), run(conversationId)];
      for (const each of runs) await a.runs.create(each);
      expect(await b.runs.get(runs[0]!.id)).toEqual(runs[0]);
      expect(await b.runs.listLast(conversationId, 2)).toEqual(runs.slice(1));
      expect(await b.runs.listLast(conversationId, 0)).toEqual([]);
      expect(await b.runs.get(randomUUID())).toBeNull();
    });

    it('keeps a run without usage without it, and one whose usage is null with null', async () => {
      const conversationId = randomUUID();
      const without = run(conversationId);
      const nullUsage = run(conversationId, { usage: null });
      const counted = run(conversationId, { usage: { inputTokens: 3, outputTokens: null, totalTokens: 3 } });
      for (const each of [without, nullUsage, counted]) await a.runs.create(each);
      const read = await b.runs.listLast(conversationId, 3);
      expect(read).toEqual([without, nullUsage, counted]);
      expect('usage' in read[0]!).toBe(false);
      expect(read[1]!.usage).toBeNull();
    });

    it('transitions only from the given statuses, keeping every other field', async () => {
      const created = run(randomUUID());
      await a.runs.create(created);
      const started = await b.runs.transition(created.id, ['QUEUED'], { status: 'RUNNING', startedAt: iso(1) });
      expect(started).toEqual({ ...created, status: 'RUNNING', startedAt: iso(1) });
      expect(await a.runs.transition(created.id, ['QUEUED'], { status: 'RUNNING' })).toBeNull();
      const error = { code: 'TIMEOUT', message: 'too slow', retryable: true };
      const usage = { inputTokens: 10, outputTokens: 20, totalTokens: 30 };
      const failed = await a.runs.transition(created.id, ['QUEUED', 'RUNNING'], { status: 'FAILED', error, finishedAt: iso(2), usage });
      expect(failed).toEqual({ ...created, status: 'FAILED', startedAt: iso(1), error, finishedAt: iso(2), usage });
      expect(await b.runs.get(created.id)).toEqual(failed);
      expect(await b.runs.transition(created.id, ['FAILED'], {})).toEqual(failed);
      expect(await b.runs.transition(randomUUID(), ['QUEUED'], { status: 'RUNNING' })).toBeNull();
    });

    it('lets exactly one of concurrent transitions win', async () => {
      const created = run(randomUUID(), { status: 'RUNNING' });
      await a.runs.create(created);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).runs.transition(created.id, ['RUNNING'], { status: 'CANCELLED', cancelReason: `by ${i}` })),
      );
      const winners = results.filter((result) => result !== null);
      expect(winners).toHaveLength(1);
      expect(await a.runs.get(created.id)).toEqual(winners[0]);
    });

    it('queues run ids per conversation, in order', async () => {
      const [c1, c2] = [randomUUID(), randomUUID()];
      await a.runQueue.push(c1, 'r1');
      await b.runQueue.push(c1, 'r2');
      await a.runQueue.push(c2, 'x1');
      await b.runQueue.push(c1, 'r3');
      expect(await a.runQueue.list(c1)).toEqual(['r1', 'r2', 'r3']);
      // Each removal answers whether runs are left in the queue.
      expect(await b.runQueue.remove(c1, 'r2')).toBe(true);
      expect(await b.runQueue.remove(c1, 'unknown')).toBe(true);
      expect(await a.runQueue.list(c1)).toEqual(['r1', 'r3']);
      expect(await a.runQueue.list(c2)).toEqual(['x1']);
      expect(await a.runQueue.remove(c2, 'x1')).toBe(false);
      expect(await b.runQueue.list(c2)).toEqual([]);
      expect(await a.runQueue.remove(c2, 'x1')).toBe(false);
    });

    it("reads the queue's first run with its record", async () => {
      const conversationId = randomUUID();
      expect(await a.runQueue.head(conversationId)).toBeNull();
      const first = run(conversationId);
      await a.runs.create(first);
      await b.runQueue.push(conversationId, first.id);
      await b.runQueue.push(conversationId, 'queued-behind');
      expect(await a.runQueue.head(conversationId)).toEqual({ runId: first.id, run: first });
      // An id whose run is gone: the scheduler drops it from the queue.
      const orphan = randomUUID();
      await b.runQueue.push(orphan, 'vanished');
      expect(await a.runQueue.head(orphan)).toEqual({ runId: 'vanished', run: null });
    });
  });

  describe('sends', () => {
    it('stores the conversation, the message and its MessageCreated, the run and its queue place at once', async () => {
      const conversationId = randomUUID();
      const send = newSend(conversationId);
      const outcome = await a.sends.commit(send);
      if (outcome.outcome !== 'stored') throw new Error(`not stored: ${outcome.outcome}`);
      const stored = { ...send.message, seq: 1 };
      expect(outcome.message).toEqual(stored);
      expect(outcome.event).toMatchObject({ type: 'MessageCreated', seq: 1, conversationId, runId: send.run.id, agentId: null, message: stored });
      expect(outcome.conversation).toEqual({ ...send.conversation, title: 'Hello', updatedAt: iso(2) });
      expect(await contents(b, conversationId)).toEqual({
        conversation: outcome.conversation,
        lastSeq: 1,
        events: [outcome.event],
        messages: [stored],
        runs: [send.run],
        queue: [send.run.id],
      });
      expect(await b.messages.get(send.message.id)).toEqual(stored);
      expect((await b.conversations.listForOwner(alice, 100)).map((each) => each.id)).toContain(conversationId);
    });

    it('adds to an existing conversation of the same owner, after its events', async () => {
      const conversationId = randomUUID();
      await a.conversations.createIfAbsent({ ...conversation(conversationId, alice), title: 'Kept' });
      await a.events.append(token(conversationId, 'earlier'));
      const outcome = await b.sends.commit(newSend(conversationId));
      expect(outcome).toMatchObject({ outcome: 'stored', event: { seq: 2 }, message: { seq: 2 }, conversation: { title: 'Kept' } });
    });

    it('answers a repeated key with what the first send stored, and stores nothing more', async () => {
      const conversationId = randomUUID();
      const first = newSend(conversationId);
      await a.sends.commit(first);
      const again = newSend(conversationId, { idempotencyKey: first.idempotencyKey });
      expect(await b.sends.commit(again)).toEqual({
        outcome: 'repeated',
        stored: { conversationId, messageId: first.message.id, runId: first.run.id },
      });
      const elsewhere = newSend(randomUUID(), { idempotencyKey: first.idempotencyKey });
      expect(await b.sends.commit(elsewhere)).toMatchObject({ outcome: 'repeated', stored: { conversationId } });
      expect(await contents(a, conversationId)).toMatchObject({ lastSeq: 1, queue: [first.run.id] });
      expect(await a.conversations.get(elsewhere.conversation.id)).toBeNull();
      // Without a key, every send is a new one.
      const unkeyed = () => newSend(conversationId, { idempotencyKey: null });
      expect((await a.sends.commit(unkeyed())).outcome).toBe('stored');
      expect((await b.sends.commit(unkeyed())).outcome).toBe('stored');
      expect(await a.events.lastSeq(conversationId)).toBe(3);
    });

    it('stores exactly one of concurrent sends with one key, through either instance', async () => {
      const conversationId = randomUUID();
      const key = `send:${randomUUID()}`;
      const sends = Array.from({ length: 8 }, () => newSend(conversationId, { idempotencyKey: key }));
      const outcomes = await Promise.all(sends.map((send, i) => (i % 2 ? a : b).sends.commit(send)));
      const winners = outcomes.map((outcome, i) => (outcome.outcome === 'stored' ? i : -1)).filter((i) => i >= 0);
      expect(winners).toHaveLength(1);
      const winner = sends[winners[0]!]!;
      const repeated = { outcome: 'repeated', stored: { conversationId, messageId: winner.message.id, runId: winner.run.id } };
      expect(outcomes.filter((outcome) => outcome.outcome !== 'stored')).toEqual(Array.from({ length: 7 }, () => repeated));
      expect(await contents(a, conversationId)).toMatchObject({
        lastSeq: 1,
        messages: [{ id: winner.message.id }],
        runs: [winner.run],
        queue: [winner.run.id],
      });
    });

    it('forgets a key once its time is up, and then stores a send with it', async () => {
      // Long enough for the send after the one that takes the key over to come before it expires
      // again, on a busy machine (50 ms was not, through a server or PGlite alike).
      const { a: brief, b: briefB } = await fresh(undefined, 1000);
      const first = newSend(randomUUID());
      expect((await brief.sends.commit(first)).outcome).toBe('stored');
      const again = newSend(randomUUID(), { idempotencyKey: first.idempotencyKey });
      const outcome = await until(async () => {
        const attempt = await briefB.sends.commit(again);
        return attempt.outcome === 'repeated' ? undefined : attempt;
      }, 'the key to expire');
      expect(outcome).toMatchObject({ outcome: 'stored', message: { id: again.message.id } });
      expect(await briefB.sends.commit(newSend(randomUUID(), { idempotencyKey: first.idempotencyKey }))).toEqual({
        outcome: 'repeated',
        stored: { conversationId: again.conversation.id, messageId: again.message.id, runId: again.run.id },
      });
    });

    it("stores nothing in someone else's conversation, and keeps no key for it", async () => {
      const conversationId = randomUUID();
      await a.sends.commit(newSend(conversationId));
      const before = await contents(a, conversationId);
      const intruder = newSend(conversationId);
      intruder.conversation = conversation(conversationId, bob);
      expect(await b.sends.commit(intruder)).toEqual({ outcome: 'not-owner' });
      expect(await contents(a, conversationId)).toEqual(before);
      expect(await a.runs.get(intruder.run.id)).toBeNull();
      expect(await a.messages.get(intruder.message.id)).toBeNull();
      expect((await a.sends.commit(newSend(randomUUID(), { idempotencyKey: intruder.idempotencyKey }))).outcome).toBe('stored');
    });

    it('stores nothing while the conversation has maxActiveRuns active runs, and counts only active ones', async () => {
      const conversationId = randomUUID();
      const sends = [newSend(conversationId), newSend(conversationId)];
      for (const send of sends) await a.sends.commit(send);
      const before = await contents(a, conversationId);
      const refused = newSend(conversationId, { maxActiveRuns: 2 });
      expect(await b.sends.commit(refused)).toEqual({ outcome: 'busy', activeRunIds: sends.map((send) => send.run.id) });
      expect(await contents(a, conversationId)).toEqual(before);
      await a.runs.transition(sends[0]!.run.id, ['QUEUED'], { status: 'RUNNING' });
      expect(await b.sends.commit(refused)).toMatchObject({ outcome: 'busy', activeRunIds: sends.map((send) => send.run.id) });
      await a.runs.transition(sends[0]!.run.id, ['RUNNING'], { status: 'CANCELLED' });
      // The refused sends took no seq: the one that gets in is numbered right after the others.
      expect(await b.sends.commit(refused)).toMatchObject({ outcome: 'stored', event: { seq: 3 } });
      expect(await a.sends.commit(newSend(conversationId, { idempotencyKey: refused.idempotencyKey }))).toMatchObject({ outcome: 'repeated' });
    });

    it('lets no more than maxActiveRuns of concurrent sends into one conversation', async () => {
      const conversationId = randomUUID();
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).sends.commit(newSend(conversationId, { idempotencyKey: null, maxActiveRuns: 3 }))),
      );
      const stored = outcomes.filter((outcome) => outcome.outcome === 'stored');
      expect(stored).toHaveLength(3);
      expect(outcomes.filter((outcome) => outcome.outcome === 'busy')).toHaveLength(5);
      // Queued in the order they were numbered in.
      const bySeq = stored.sort((x, y) => x.event.seq - y.event.seq).map((outcome) => outcome.event.runId);
      expect(await contents(a, conversationId)).toMatchObject({ lastSeq: 3, queue: bySeq });
    });

    it('stores nothing for a new conversation that may have no active run at all', async () => {
      const conversationId = randomUUID();
      expect(await a.sends.commit(newSend(conversationId, { maxActiveRuns: 0 }))).toEqual({ outcome: 'busy', activeRunIds: [] });
      expect(await contents(b, conversationId)).toEqual({ conversation: null, lastSeq: 0, events: [], messages: [], runs: [], queue: [] });
    });
  });

  describe('event log', () => {
    it('numbers events 1, 2, 3… per conversation and stamps them', async () => {
      const [c1, c2] = [randomUUID(), randomUUID()];
      const first = await a.events.append(token(c1, 'a'));
      const second = await b.events.append(token(c1, 'b'));
      const other = await a.events.append(token(c2, 'x'));
      expect(first).toEqual({ ...token(c1, 'a'), seq: 1, id: `${c1}:1`, timestamp: first.timestamp });
      expect(second).toMatchObject({ seq: 2, id: `${c1}:2` });
      expect(other.seq).toBe(1);
      expect(new Date(first.timestamp).toISOString()).toBe(first.timestamp);
      expect(Math.abs(Date.parse(first.timestamp) - Date.now())).toBeLessThan(60_000);
      expect(await b.events.lastSeq(c1)).toBe(2);
      expect(await b.events.lastSeq(randomUUID())).toBe(0);
      expect(await b.events.read(c1, 0, 10)).toEqual([first, second]);
    });

    it('appends a batch as consecutive seqs with one timestamp, and an empty batch as nothing', async () => {
      const conversationId = randomUUID();
      await a.events.append(token(conversationId, 'first'));
      const batch = await b.events.appendBatch(['x', 'y', 'z'].map((delta) => token(conversationId, delta)));
      expect(batch.map((event) => event.seq)).toEqual([2, 3, 4]);
      expect(new Set(batch.map((event) => event.timestamp)).size).toBe(1);
      expect(await a.events.appendBatch([])).toEqual([]);
      expect(await a.events.read(conversationId, 1, 10)).toEqual(batch);
    });

    it('reads back every kind of event as it was appended', async () => {
      const conversationId = randomUUID();
      const runId = randomUUID();
      const base = { conversationId, runId, agentId: 'guide' };
      const events: NewEvent[] = [
        { ...base, type: 'AgentStarted' },
        { ...base, type: 'AgentThinking', text: 'hmm' },
        { ...base, type: 'ToolExecuting', toolCallId: 't1', toolName: 'lookup', arguments: { q: 'x', n: [1, { deep: null }] } },
        { ...base, type: 'ToolCompleted', toolCallId: 't1', toolName: 'lookup', result: 'ok', error: null, durationMs: 12 },
        { ...base, type: 'AgentHandoff', fromAgentId: 'guide', toAgentId: 'liaison.insights', reason: 'data' },
        { ...base, type: 'AgentToken', delta: 'a\u0000b "c" ✓' },
        { ...base, type: 'AgentArtifact', artifactId: 'a1', kind: 'TABLE', title: 'T', data: { rows: [[1, 2]] } },
        { ...base, type: 'AgentCompleted', message: { ...message(conversationId, 0, 'done'), role: 'AGENT', agentId: 'guide', runId }, usage: null },
        { ...base, agentId: null, type: 'AgentFailed', error: { code: 'X', message: 'y', retryable: false } },
        { ...base, type: 'AgentCancelled', reason: 'user' },
      ];
      const appended = await a.events.appendBatch(events);
      expect(await b.events.read(conversationId, 0, 100)).toEqual(appended);
      expect(appended[7]).toMatchObject({ seq: 8, message: { seq: 8 } });
    });

    it("appends a fenced event only while the run's fence is at the epoch named, and nothing otherwise", async () => {
      const conversationId = randomUUID();
      const created = run(conversationId);
      await a.runs.create(created);
      const runId = created.id;
      const held = await a.fences.fence(runId, 'executor', 1);
      expect(await b.fences.fence(runId, 'executor', 1)).toBe(held);
      expect(await b.events.append(token(conversationId, 'mine', runId), held)).toMatchObject({ seq: 1 });
      // A survivor took the run over: the executor's next append is refused and stores nothing.
      const survivor = await b.fences.fence(runId, 'survivor', 2);
      expect(survivor).toBeGreaterThan(held);
      const refused = await a.events
        .appendBatch([token(conversationId, 'late', runId), token(conversationId, 'later', runId)], held)
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(LeaseLostError);
      expect(refused).toMatchObject({ runId });
      expect(await b.events.lastSeq(conversationId)).toBe(1);
      // Unfenced appends (on the run's behalf) go in, and so do the survivor's fenced ones, numbered on without a hole.
      await b.events.append(token(conversationId, 'ended', runId));
      expect(await a.events.append(token(conversationId, 'again', runId), survivor)).toMatchObject({ seq: 3 });
      // Handed back, the run is at a new epoch still: the old one never holds again.
      const back = await a.fences.fence(runId, 'executor', 3);
      expect(back).toBeGreaterThan(survivor);
      await expect(a.events.append(token(conversationId, 'stale', runId), held)).rejects.toBeInstanceOf(LeaseLostError);
      expect(deltas(await a.events.read(conversationId, 0, 10))).toEqual(['mine', 'ended', 'again']);
    });

    it('refuses a fenced append for a run it has no fence of, and fences a run that does not exist with an epoch never given', async () => {
      const conversationId = randomUUID();
      await expect(a.events.append(token(conversationId, 'x', randomUUID()), 1)).rejects.toBeInstanceOf(LeaseLostError);
      expect(await a.fences.fence(randomUUID(), 'someone', 1)).toBe(0);
      expect(await b.events.lastSeq(conversationId)).toBe(0);
    });

    it('numbers the message a MessageCreated or AgentCompleted carries with the event', async () => {
      const conversationId = randomUUID();
      await a.events.append(token(conversationId, 'x'));
      const created = await b.events.append({ type: 'MessageCreated', conversationId, runId: 'r', agentId: null, message: message(conversationId, 0, 'hi') });
      expect(created.seq).toBe(2);
      expect(created.type === 'MessageCreated' && created.message.seq).toBe(2);
      expect(await a.events.read(conversationId, 1, 10)).toEqual([created]);
    });

    it('keeps what was appended as it was, whatever the appender changes afterwards', async () => {
      const conversationId = randomUUID();
      const args = { query: 'sales', filters: [{ field: 'region', values: ['EU'] }] };
      const tool = { type: 'ToolExecuting' as const, conversationId, runId: 'r', agentId: 'guide', toolCallId: 't1', toolName: 'lookup', arguments: args };
      const completedMessage = { ...message(conversationId, 0, 'done'), role: 'AGENT' as const };
      const completed = {
        type: 'AgentCompleted' as const,
        conversationId,
        runId: 'r',
        agentId: 'guide',
        message: completedMessage,
        usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
      };
      await a.events.appendBatch([tool, completed]);
      args.filters[0]!.values.push('US');
      args.query = 'changed';
      completedMessage.text = 'changed';
      completed.usage.totalTokens = 0;
      tool.toolName = 'changed';
      for (const on of [a, b]) {
        const events = await on.events.read(conversationId, 0, 10);
        expect(events[0]).toMatchObject({ toolName: 'lookup', arguments: { query: 'sales', filters: [{ field: 'region', values: ['EU'] }] } });
        expect(events[1]).toMatchObject({ message: { text: 'done', seq: 2 }, usage: { totalTokens: 7 } });
      }
    });

    it('gives concurrent appends and batches through both instances one gapless seq line, each batch in one piece', async () => {
      const conversationId = randomUUID();
      const appended = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? a : b).events.appendBatch(Array.from({ length: 1 + (i % 4) }, (_, j) => token(conversationId, `d${i}.${j}`))),
        ),
      );
      const total = appended.reduce((sum, batch) => sum + batch.length, 0);
      for (const batch of appended) {
        expect(batch.map((event) => event.seq)).toEqual(batch.map((_, j) => batch[0]!.seq + j));
      }
      const seqs = appended
        .flat()
        .map((event) => event.seq)
        .sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      const read = await a.events.read(conversationId, 0, 1000);
      expect(read).toEqual([...appended.flat()].sort((x, y) => x.seq - y.seq));
      expect(await b.events.lastSeq(conversationId)).toBe(total);
    });

    it('gives concurrent sends and appends to one conversation one gapless seq line', async () => {
      const conversationId = randomUUID();
      await a.conversations.createIfAbsent(conversation(conversationId, alice));
      const work = Array.from({ length: 20 }, (_, i) =>
        i % 3 === 0
          ? (i % 2 ? a : b).sends.commit(newSend(conversationId)).then((outcome) => (outcome.outcome === 'stored' ? [outcome.event.seq] : []))
          : (i % 2 ? a : b).events.append(token(conversationId, `d${i}`)).then((event) => [event.seq]),
      );
      const seqs = (await Promise.all(work)).flat().sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const messages = await b.messages.listLast(conversationId, 100);
      expect(messages).toHaveLength(7);
      const events = await b.events.read(conversationId, 0, 100);
      for (const each of messages) expect(events[each.seq - 1]).toMatchObject({ type: 'MessageCreated', message: each });
    });

    it('never shows a reader an event without every one before it, while both instances append', async () => {
      const conversationId = randomUUID();
      let appending = true;
      const appends = Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).events.append(token(conversationId, `d${i}`)))).finally(
        () => (appending = false),
      );
      const reads: number[][] = [];
      do {
        reads.push((await (reads.length % 2 ? a : b).events.read(conversationId, 0, 100)).map((event) => event.seq));
      } while (appending);
      await appends;
      for (const seqs of reads) expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    });

    it('reads pages after a seq', async () => {
      const conversationId = randomUUID();
      for (let i = 1; i <= 7; i += 1) await a.events.append(token(conversationId, `d${i}`));
      expect((await b.events.read(conversationId, 0, 3)).map((event) => event.seq)).toEqual([1, 2, 3]);
      expect((await b.events.read(conversationId, 3, 3)).map((event) => event.seq)).toEqual([4, 5, 6]);
      expect((await b.events.read(conversationId, 6, 3)).map((event) => event.seq)).toEqual([7]);
      expect(await b.events.read(conversationId, 7, 3)).toEqual([]);
      expect(await b.events.read(conversationId, 3, 0)).toEqual([]);
      expect(await b.events.read(randomUUID(), 0, 3)).toEqual([]);
    });

    it('keeps the newest events up to the retention count, and says EVENTS_EXPIRED for older cursors', async () => {
      const { a: small, b: smallB } = await fresh({ maxEventsPerConversation: 5, maxAgeMs: 3600_000 });
      const conversationId = randomUUID();
      for (let i = 1; i <= 8; i += 1) await (i % 2 ? small : smallB).events.append(token(conversationId, `d${i}`));
      expect((await smallB.events.read(conversationId, 3, 10)).map((event) => event.seq)).toEqual([4, 5, 6, 7, 8]);
      const error = await small.events.read(conversationId, 2, 10).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(GatewayError);
      expect(error).toMatchObject({ code: 'EVENTS_EXPIRED', extensions: { firstRetainedSeq: 4 } });
      await expect(small.events.read(conversationId, 2, 0)).rejects.toMatchObject({ code: 'EVENTS_EXPIRED' });
      // A batch longer than the count keeps its newest events only.
      await small.events.appendBatch(Array.from({ length: 7 }, (_, i) => token(conversationId, `e${i}`)));
      expect(deltas(await smallB.events.read(conversationId, 10, 10))).toEqual(['e2', 'e3', 'e4', 'e5', 'e6']);
      await expect(smallB.events.read(conversationId, 9, 10)).rejects.toMatchObject({ extensions: { firstRetainedSeq: 11 } });
      expect(await smallB.events.lastSeq(conversationId)).toBe(15);
    });

    it('drops events older than the retention age', async () => {
      const { a: brief } = await fresh({ maxEventsPerConversation: 100, maxAgeMs: 1000 });
      const conversationId = randomUUID();
      await brief.events.append(token(conversationId, 'old'));
      expect(await brief.events.read(conversationId, 0, 10)).toHaveLength(1);
      const error = await until(
        () =>
          brief.events.read(conversationId, 0, 10).then(
            () => undefined,
            (caught: unknown) => caught,
          ),
        'the event to age out',
      );
      expect(error).toMatchObject({ code: 'EVENTS_EXPIRED', extensions: { firstRetainedSeq: 2 } });
      expect(await brief.events.lastSeq(conversationId)).toBe(1);
      expect(await brief.events.read(conversationId, 1, 10)).toEqual([]);
      const next = await brief.events.append(token(conversationId, 'new'));
      expect(next.seq).toBe(2);
      expect(await brief.events.read(conversationId, 1, 10)).toEqual([next]);
    });
  });
});

/**
 * Where the tests beyond the contract run: a new database on the server, which each `pool` opens
 * anew; or a new PGlite folder, opened once, whose one `Sql` every `pool` of it answers.
 */
interface Databases {
  name: string;
  /** A new, empty database, as a DATABASE_URL. */
  create(): Promise<string>;
  connect(url: string): Sql;
}

const serverDatabases: Databases = {
  name: 'postgres',
  create: () => server.createDatabase(),
  connect: (url) => postgresPool(url),
};

const pgliteFolders = new Map<string, Sql>();
const pgliteDatabases: Databases = {
  name: 'pglite',
  async create() {
    const folder = await freshDataFolder();
    const url = dataFolderUrl(folder);
    pgliteFolders.set(url, await pgliteSql(folder));
    return url;
  },
  connect: (url) => pgliteFolders.get(url)!,
};

describe.each([serverDatabases, pgliteDatabases])('the $name store of record, beyond the contract', (databases) => {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((each) => each.close()));
    pgliteFolders.clear();
  });
  const pool = (url: string): Sql => {
    const sql = databases.connect(url);
    if (!opened.includes(sql)) opened.push(sql);
    return sql;
  };
  const store = async (url: string, sql: Sql = pool(url), more: Partial<PostgresRecordStoreOptions> = {}) => {
    const records = await createPostgresRecordStore(sql, { ...options(), ...more });
    opened.push(records);
    return records;
  };

  it('migrates once however many instances start at once, and applies only what is new later', async () => {
    const url = await databases.create();
    const pools = Array.from({ length: 6 }, () => pool(url));
    const applied = await Promise.all(pools.map((sql) => migrate(sql)));
    const versions = MIGRATIONS.map((migration) => migration.version);
    expect(versions).toEqual(versions.map((_, i) => i + 1));
    expect(applied.flat().sort((x, y) => x - y)).toEqual(versions);
    expect(applied.filter((each) => each.length > 0)).toHaveLength(1);
    const next: Migration = { version: versions.length + 1, name: 'a later one', statements: ['CREATE TABLE later (id int)'] };
    const again = await Promise.all(pools.map((sql) => migrate(sql, [...MIGRATIONS, next])));
    expect(again.flat()).toEqual([next.version]);
    const { rows } = await pools[0]!.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((row) => row.version)).toEqual([...versions, next.version]);
  });

  it('rolls a failing migration back whole, recording nothing of it', async () => {
    const url = await databases.create();
    const sql = pool(url);
    const broken: Migration = { version: 1, name: 'broken', statements: ['CREATE TABLE half (id int)', 'SELECT * FROM nowhere'] };
    await expect(migrate(sql, [broken])).rejects.toThrow(/nowhere/);
    const { rows } = await sql.query<{ tables: string }>(
      `SELECT count(*) AS tables FROM information_schema.tables WHERE table_name IN ('half', 'schema_migrations')`,
    );
    expect(Number(rows[0]!.tables)).toBe(0);
  });

  it('records changes of hands in the order of their lease epochs, one that arrives after a later one changing nothing', async () => {
    const url = await databases.create();
    const [records, other] = [await store(url), await store(url)];
    const conversationId = randomUUID();
    const created = run(conversationId);
    await records.runs.create(created);
    await records.fences.fence(created.id, 'executor', 10);
    // The executor let go (lease epoch 11) while a starter took the run (12); the starter's record came first.
    const starter = await other.fences.fence(created.id, 'starter', 12);
    expect(await records.fences.fence(created.id, '-', 11)).toBe(0);
    expect(await records.events.append(token(conversationId, 'still mine', created.id), starter)).toMatchObject({ seq: 1 });
    // Recorded again at the same change of hands, it is the same epoch; a later one moves it on.
    expect(await other.fences.fence(created.id, 'starter', 12)).toBe(starter);
    expect(await records.fences.fence(created.id, 'sweeper', 13)).toBeGreaterThan(starter);
    await expect(records.events.append(token(conversationId, 'late', created.id), starter)).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('lists the runs still active in any conversation, oldest first, as a recovery needs them', async () => {
    const url = await databases.create();
    const records = await store(url);
    const [c1, c2] = [randomUUID(), randomUUID()];
    const runs = [
      run(c1),
      run(c2, { status: 'RUNNING', startedAt: iso(1) }),
      run(c1, { status: 'COMPLETED', finishedAt: iso(2), usage: null }),
      run(c2, { status: 'CANCELLED', cancelReason: 'user' }),
      run(c2),
    ];
    for (const each of runs) await records.runs.create(each);
    expect(await records.activeRuns(10)).toEqual([runs[0], runs[1], runs[4]]);
    expect(await records.activeRuns(2)).toEqual([runs[0], runs[1]]);
    expect(await records.activeRuns(0)).toEqual([]);
    await records.runs.transition(runs[0]!.id, ['QUEUED'], { status: 'FAILED' });
    expect((await records.activeRuns(10)).map((each) => each.id)).toEqual([runs[1]!.id, runs[4]!.id]);
    // On a table this small a sequential scan wins; with it ruled out, the query must find an index to serve it.
    const plan = await pool(url).transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const { rows } = await tx.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT id FROM runs WHERE status = ANY(ARRAY['QUEUED', 'RUNNING']) ORDER BY position LIMIT 10`,
      );
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    });
    expect(plan).toMatch(/runs_by_status/);
  });

  it('appends a batch of 200 tokens in one transaction, where one by one they take 200', async () => {
    const url = await databases.create();
    const counted = counting(pool(url));
    const records = await store(url, counted);
    const batched = randomUUID();
    const single = randomUUID();
    counted.transactions = 0;
    await records.events.appendBatch(Array.from({ length: 200 }, (_, i) => token(batched, `t${i}`)));
    expect(counted.transactions).toBe(1);
    const rows = await pool(url).query<{ count: string }>('SELECT count(*) FROM events WHERE conversation_id = $1', [batched]);
    expect(Number(rows.rows[0]!.count)).toBe(200);
    expect((await records.events.read(batched, 0, 500)).map((event) => event.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    counted.transactions = 0;
    for (let i = 0; i < 200; i += 1) await records.events.append(token(single, `t${i}`));
    expect(counted.transactions).toBe(200);
  });

  it('sweeps events past the retention age and expired keys out of their tables, now and then, and nothing else', async () => {
    const url = await databases.create();
    const sql = pool(url);
    const retention = { maxEventsPerConversation: 100, maxAgeMs: 500 };
    const records = await store(url, sql, { retention, idempotencyTtlMs: 1, sweepIntervalMs: 50 });
    const rows = async (table: string) => Number((await sql.query<{ count: string }>(`SELECT count(*) FROM ${table}`)).rows[0]!.count);
    const conversationId = randomUUID();
    await records.events.appendBatch([token(conversationId, 'a'), token(conversationId, 'b')]);
    expect((await records.sends.commit(newSend(randomUUID()))).outcome).toBe('stored');
    expect([await rows('events'), await rows('idempotency_keys')]).toEqual([3, 1]);
    await until(async () => ((await rows('events')) === 0 ? true : undefined), 'the sweep to delete the events');
    expect(await rows('idempotency_keys')).toBe(0);
    expect([await rows('messages'), await rows('runs'), await rows('conversations')]).toEqual([1, 1, 1]);
    expect(await records.events.lastSeq(conversationId)).toBe(2);
    const kept = await records.events.append(token(conversationId, 'c'));
    await records.sweepExpired();
    expect(await records.events.read(conversationId, 2, 10)).toEqual([kept]);
  });

  it('deletes a conversation and everything of it, through either pool, and nothing of another', async () => {
    const url = await databases.create();
    const [records, other] = [await store(url), await store(url)];
    const doomed = randomUUID();
    const kept = randomUUID();
    const sends = [newSend(doomed), newSend(doomed)];
    for (const send of sends) await records.sends.commit(send);
    const [first] = sends as [NewSend];
    await records.fences.fence(first.run.id, 'executor', 1);
    await records.events.append(token(doomed, 'Hi', first.run.id));
    await records.sends.commit(newSend(kept));
    const keptBefore = await contents(records, kept);

    expect(await other.deleteConversation(doomed)).toEqual(sends.map((send) => send.run.id));
    expect(await contents(records, doomed)).toEqual({ conversation: null, lastSeq: 0, events: [], messages: [], runs: [], queue: [] });
    expect(await records.runs.get(first.run.id)).toBeNull();
    expect(await records.messages.get(first.message.id)).toBeNull();
    expect((await records.conversations.listForOwner(alice, 100)).map((each) => each.id)).not.toContain(doomed);
    // The run's fence went with it: its executor's next append is refused.
    await expect(records.events.append(token(doomed, 'late', first.run.id), 1)).rejects.toBeInstanceOf(LeaseLostError);
    // Its keys are forgotten: the same key starts anew.
    expect((await records.sends.commit(newSend(randomUUID(), { idempotencyKey: first.idempotencyKey }))).outcome).toBe('stored');
    expect(await contents(records, kept)).toEqual(keptBefore);
    expect(await records.deleteConversation(doomed)).toBeNull();
  });

  it('deletes a conversation whole while sends and appends race it, leaving a log numbered from 1 without a hole', async () => {
    const url = await databases.create();
    const [records, other] = [await store(url), await store(url)];
    const id = randomUUID();
    const first = newSend(id);
    await records.sends.commit(first);
    const epoch = await records.fences.fence(first.run.id, 'executor', 1);
    const on = (i: number) => (i % 2 ? records : other);
    const refusedOnceDeleted = (error: unknown) => (error instanceof LeaseLostError ? null : Promise.reject(error));
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => on(i).sends.commit(newSend(id, { idempotencyKey: null }))),
      ...Array.from({ length: 6 }, (_, i) => on(i).events.append(token(id, `t${i}`))),
      ...Array.from({ length: 6 }, (_, i) =>
        on(i)
          .events.append(token(id, `f${i}`, first.run.id), epoch)
          .catch(refusedOnceDeleted),
      ),
      other.deleteConversation(id),
    ]);
    // Whatever came after the deletion made the conversation anew: its log, messages and runs agree.
    const events = await records.events.read(id, 0, 100);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1));
    expect(await records.events.lastSeq(id)).toBe(events.length);
    const messages = await records.messages.listLast(id, 100);
    for (const each of messages) expect(events[each.seq - 1]).toMatchObject({ type: 'MessageCreated', message: each });
    const runs = await records.runs.listLast(id, 100);
    expect(runs.map((each) => each.id)).toEqual(messages.map((each) => each.runId));
    expect(await records.runQueue.list(id)).toEqual(runs.map((each) => each.id));
  });

  it('refuses a batch of events of several conversations, storing none of them', async () => {
    const url = await databases.create();
    const records = await store(url);
    const [c1, c2] = [randomUUID(), randomUUID()];
    await expect(records.events.appendBatch([token(c1, 'a'), token(c2, 'b')])).rejects.toThrow(/one conversation/);
    expect([await records.events.lastSeq(c1), await records.events.lastSeq(c2)]).toEqual([0, 0]);
  });

  it('refuses a send whose text holds U+0000 (which PostgreSQL text cannot hold), storing nothing of it', async () => {
    const url = await databases.create();
    const records = await store(url);
    const conversationId = randomUUID();
    const send = newSend(conversationId);
    send.message = { ...send.message, text: 'a\u0000b' };
    await expect(records.sends.commit(send)).rejects.toThrow();
    expect(await contents(records, conversationId)).toEqual({ conversation: null, lastSeq: 0, events: [], messages: [], runs: [], queue: [] });
    expect((await records.sends.commit(newSend(randomUUID(), { idempotencyKey: send.idempotencyKey }))).outcome).toBe('stored');
  });

  it('refuses a run patch with a field runs do not have, changing nothing', async () => {
    const url = await databases.create();
    const records = await store(url);
    const created = run(randomUUID());
    await records.runs.create(created);
    for (const field of ['bogus', 'toString']) {
      const patch = { status: 'RUNNING', [field]: 1 } as Partial<RunRecord>;
      await expect(records.runs.transition(created.id, ['QUEUED'], patch)).rejects.toThrow(`no field "${field}"`);
    }
    expect(await records.runs.get(created.id)).toEqual(created);
  });

  // Only where a store opens a pool of its own: a PGlite folder is opened once in a process (its
  // one Sql is the one these tests share), and test/multi/pglite-restart.test.ts opens and closes
  // a folder by its URL instead.
  const opensPools = databases.name !== 'pglite';
  (opensPools ? it : () => undefined)('leaves a pool it was handed open, and closes the one it opened for a URL', async () => {
    const url = await databases.create();
    const sql = pool(url);
    await (await store(url, sql)).close();
    await expect(sql.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
    const own = await createPostgresRecordStore(url, options());
    expect(own.kind).toBe('postgres');
    await own.close();
    await expect(own.ping()).rejects.toThrow();
  });
});

/** `sql`, counting the transactions it runs: each `transaction`, and each statement outside one. */
function counting(sql: Sql): Sql & { transactions: number } {
  const counted = {
    transactions: 0,
    query: ((text, params) => {
      counted.transactions += 1;
      return sql.query(text, params);
    }) as Sql['query'],
    transaction: ((fn) => {
      counted.transactions += 1;
      return sql.transaction(fn);
    }) as Sql['transaction'],
    close: () => sql.close(),
  };
  return counted;
}

describe("PGlite's one connection, shared by many callers at once", () => {
  let sql: Sql;
  let folder: string;
  beforeAll(async () => {
    folder = await freshDataFolder();
    sql = await pgliteSql(folder);
    await sql.query('CREATE TABLE counted (id int PRIMARY KEY, note text)');
  }, 180_000);
  afterAll(() => sql?.close());
  afterEach(() => sql.query('DELETE FROM counted'));

  const count = async (on: Sql = sql) => Number((await on.query<{ n: string }>('SELECT count(*) AS n FROM counted')).rows[0]!.n);

  it("runs a statement from outside after another caller's open transaction, never inside it", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const insertedOnce = new Promise<void>((resolve) => (inserted = resolve));
    const transaction = sql.transaction(async (tx) => {
      await tx.query('INSERT INTO counted VALUES (1)');
      inserted();
      await held;
      throw new Error('rolled back');
    });
    await insertedOnce;
    // Asked while the transaction is open: it must neither see its row nor be rolled back with it.
    const outside = Promise.all([count(), sql.query('INSERT INTO counted VALUES (2)')]);
    release();
    await expect(transaction).rejects.toThrow('rolled back');
    const [seen] = await outside;
    expect(seen).toBe(0);
    expect((await sql.query<{ id: number }>('SELECT id FROM counted')).rows).toEqual([{ id: 2 }]);
  });

  it('serves many concurrent transactions and statements in turn, each transaction whole', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2
          ? sql.query('INSERT INTO counted VALUES ($1)', [i])
          : sql.transaction(async (tx) => {
              const before = await count(tx);
              await new Promise((resolve) => setTimeout(resolve, 1));
              await tx.query('INSERT INTO counted VALUES ($1, $2)', [i, String(before)]);
              // Nobody else's row came in between: the count this transaction saw still holds.
              expect(await count(tx)).toBe(before + 1);
            }),
      ),
    );
    expect(await count()).toBe(40);
  });

  it('joins a transaction from its own Sql, commits when it resolves and rolls it back whole when it throws', async () => {
    await sql.transaction(async (tx) => {
      await tx.query('INSERT INTO counted VALUES (1)');
      await tx.transaction((inner) => inner.query('INSERT INTO counted VALUES (2)'));
    });
    await expect(
      sql.transaction(async (tx) => {
        await tx.transaction((inner) => inner.query('INSERT INTO counted VALUES (3)'));
        await tx.query('INSERT INTO counted VALUES (1)'); // a duplicate key
      }),
    ).rejects.toThrow(/duplicate key/);
    expect((await sql.query<{ id: number }>('SELECT id FROM counted ORDER BY id')).rows).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('counts rows as node-postgres does: those a SELECT returned, those an INSERT, UPDATE or DELETE touched', async () => {
    expect((await sql.query('INSERT INTO counted VALUES (1), (2), (3)')).rowCount).toBe(3);
    expect((await sql.query('SELECT id FROM counted WHERE id > 1')).rowCount).toBe(2);
    expect((await sql.query('UPDATE counted SET note = $1 WHERE id = 1', ['x'])).rowCount).toBe(1);
    expect((await sql.query('INSERT INTO counted VALUES (1) ON CONFLICT DO NOTHING')).rowCount).toBe(0);
    expect((await sql.query('DELETE FROM counted RETURNING id')).rowCount).toBe(3);
  });

  it('refuses to open its folder a second time, which two connections would damage', async () => {
    await expect(pgliteSql(folder)).rejects.toThrow(/open in this process already/);
    await expect(sql.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
  });

  it("refuses a statement sent past a transaction's own Sql from inside it, which would wait for itself", async () => {
    await expect(sql.transaction(() => sql.query('SELECT 1'))).rejects.toThrow(/would wait for itself/);
    await expect(sql.transaction(() => sql.transaction((tx) => tx.query('SELECT 1')))).rejects.toThrow(/would wait for itself/);
    // Once the transaction is over, what it started may use the connection as anyone does.
    let later: Promise<unknown> | undefined;
    await sql.transaction(async () => void (later = new Promise((resolve) => setTimeout(resolve, 5)).then(() => sql.query('SELECT 1'))));
    await expect(later).resolves.toMatchObject({ rowCount: 1 });
  });
});
