/**
 * The backends the contract suite runs against. A "world" is shared state; `instances` gives two
 * backends on it, as two gateway processes would have: for memory both are the same object,
 * for Redis two sets of connections to one Redis (or one Redis Cluster) under one key prefix.
 */
import { randomUUID } from 'node:crypto';
import { settingDefault } from '../../src/config.ts';
import { followConversation } from '../../src/events/follow.ts';
import type { RetentionPolicy } from '../../src/store/event-log.ts';
import type { NewEvent, StoredEvent } from '../../src/domain/events.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import type { Backend, NewSend } from '../../src/store/interfaces.ts';
import { createMemoryBackend } from '../../src/store/memory/index.ts';
import { composeBackend } from '../../src/store/compose.ts';
import { hotTailOf } from '../../src/store/registration.ts';
import { createPostgresRecordStore } from '../../src/store/postgres/index.ts';
import { createRedisBackend, createRedisLiveLayer, type RedisTarget } from '../../src/store/redis/index.ts';
import type { InputRequestRecord, RunRecord } from '../../src/domain/records.ts';
import { startPostgres, type TestPostgres } from '../support/postgres-server.ts';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';

export const DEFAULT_RETENTION: RetentionPolicy = { maxEventsPerConversation: 10_000, maxAgeMs: 3600_000 };
/** The settings a backend takes besides retention, at their defaults. */
export const BACKEND_SETTINGS = {
  idempotencyTtlMs: settingDefault('IDEMPOTENCY_TTL_MS'),
  lockTtlMs: settingDefault('REDIS_LOCK_TTL_MS'),
  historyCacheBytes: settingDefault('HISTORY_CACHE_BYTES'),
};

export interface Instances {
  a: Backend;
  b: Backend;
  close(): Promise<void>;
}

export interface World {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** Fresh shared state, seen through two instances. */
  instances(retention?: RetentionPolicy): Promise<Instances>;
}

export const memoryWorld: World = {
  name: 'memory',
  setup: async () => undefined,
  teardown: async () => undefined,
  async instances(retention = DEFAULT_RETENTION) {
    const backend = createMemoryBackend(retention, BACKEND_SETTINGS);
    return { a: backend, b: backend, close: () => backend.close() };
  },
};

export function redisWorld(): World & { redis(): TestRedis } {
  let redis: TestRedis | undefined;
  return {
    name: 'redis',
    redis: () => redis!,
    async setup() {
      redis = await startRedis();
    },
    async teardown() {
      await redis?.stop();
    },
    async instances(retention = DEFAULT_RETENTION) {
      const keyPrefix = `test-${randomUUID()}:`;
      const [a, b] = await Promise.all([
        createRedisBackend(redis!.url, { ...BACKEND_SETTINGS, retention, keyPrefix }),
        createRedisBackend(redis!.url, { ...BACKEND_SETTINGS, retention, keyPrefix }),
      ]);
      return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
    },
  };
}

/**
 * Redis alone on a Redis Cluster of three primaries (and their replicas): the store of record
 * and the live layer, two sets of connections to the cluster under one key prefix.
 */
export function redisClusterWorld(): World & { cluster(): TestRedisCluster } {
  let cluster: TestRedisCluster | undefined;
  return {
    name: 'redis+cluster',
    cluster: () => cluster!,
    async setup() {
      cluster = await startRedisCluster();
    },
    async teardown() {
      await cluster?.stop();
    },
    async instances(retention = DEFAULT_RETENTION) {
      const keyPrefix = `test-${randomUUID()}:`;
      const target = { clusterNodes: cluster!.urls };
      const [a, b] = await Promise.all([
        createRedisBackend(target, { ...BACKEND_SETTINGS, retention, keyPrefix }),
        createRedisBackend(target, { ...BACKEND_SETTINGS, retention, keyPrefix }),
      ]);
      return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
    },
  };
}

/**
 * PostgreSQL as the store of record and Redis as the live layer: two instances are two pools on
 * one database and two sets of connections to one Redis under one key prefix.
 */
export function postgresRedisWorld(): World {
  return postgresLiveLayerWorld('postgres+redis', startLiveRedis);
}

/** As `postgresRedisWorld`, with a Redis Cluster of three primaries (and their replicas) as the live layer. */
export function postgresClusterWorld(): World & { cluster(): TestRedisCluster } {
  let cluster: TestRedisCluster | undefined;
  const world = postgresLiveLayerWorld('postgres+cluster', async () => {
    const started = await startLiveCluster();
    cluster = started.cluster;
    return started;
  });
  return { ...world, cluster: () => cluster! };
}

/** A Redis of the test's own, as a live layer's target. */
export interface LiveRedis {
  target: RedisTarget;
  stop(): Promise<void>;
}

export async function startLiveRedis(): Promise<LiveRedis> {
  const redis = await startRedis();
  return { target: redis.url, stop: () => redis.stop() };
}

/** A Redis Cluster of the test's own, as a live layer's target. */
export async function startLiveCluster(): Promise<LiveRedis & { cluster: TestRedisCluster }> {
  const cluster = await startRedisCluster();
  return { target: { clusterNodes: cluster.urls }, stop: () => cluster.stop(), cluster };
}

function postgresLiveLayerWorld(name: string, startRedisOf: () => Promise<LiveRedis>): World {
  let redis: LiveRedis | undefined;
  let postgres: TestPostgres | undefined;
  return {
    name,
    async setup() {
      [redis, postgres] = await Promise.all([startRedisOf(), startPostgres()]);
    },
    async teardown() {
      await Promise.all([redis?.stop(), postgres?.stop()]);
    },
    async instances(retention = DEFAULT_RETENTION) {
      const database = await postgres!.createDatabase();
      const keyPrefix = `test-${randomUUID()}:`;
      const instance = async () =>
        composeBackend(
          await createPostgresRecordStore(database, {
            retention,
            idempotencyTtlMs: BACKEND_SETTINGS.idempotencyTtlMs,
            historyCacheBytes: BACKEND_SETTINGS.historyCacheBytes,
          }),
          await createRedisLiveLayer(redis!.target, { keyPrefix, lockTtlMs: BACKEND_SETTINGS.lockTtlMs, hotTail: hotTailOf(retention, retention.maxAgeMs) }),
        );
      const a = await instance();
      const b = await instance();
      return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
    },
  };
}

/** An AgentToken event of a test run. */
export function token(conversationId: string, delta: string, runId = 'run-1'): NewEvent {
  return { type: 'AgentToken', delta, conversationId, runId, agentId: 'guide' };
}

/**
 * Polls `probe` (every 10 ms) until it yields a value, for state that has no event to await; a
 * probe that throws (say, while Redis is down) counts as "not yet".
 */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: lastError });
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Follows a conversation and collects what arrives, until `count` events are in. */
export function collect(backend: Backend, conversationId: string, afterSeq: number | null, count: number) {
  const controller = new AbortController();
  const events: StoredEvent[] = [];
  const done = (async () => {
    for await (const event of followConversation(backend.events, conversationId, { afterSeq, bufferLimit: 1000, signal: controller.signal })) {
      events.push(event);
      if (events.length >= count) break;
    }
    return events;
  })();
  return { events, done, stop: () => controller.abort() };
}

/** A queued run of a "Hello there" to the guide, as told otherwise by `overrides`. */
export function helloRun(conversationId: string, overrides: Partial<RunRecord> = {}): RunRecord {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    conversationId,
    owner: { userId: 'someone', tenantId: null },
    agentId: 'guide',
    status: 'QUEUED',
    userMessageId: randomUUID(),
    input: { text: 'Hello there', surface: 'HOME', projectId: null, context: null },
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    error: null,
    cancelReason: null,
    ...overrides,
  };
}

/** A pending approval that `run` asks a person for, as told otherwise by `overrides`. */
export function inputRequest(run: RunRecord, overrides: Partial<InputRequestRecord> = {}): InputRequestRecord {
  return {
    id: randomUUID(),
    runId: run.id,
    conversationId: run.conversationId,
    agentId: 'guide',
    kind: 'APPROVAL',
    status: 'PENDING',
    prompt: 'Run files.ingest?',
    toolCallId: null,
    toolName: null,
    arguments: null,
    options: null,
    answerSchema: null,
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    response: null,
    ...overrides,
  };
}

/** What the Experience plane hands the send store for `run`, a "Hello there" to the guide. */
export function helloSend(run: RunRecord, lease = { holder: 'dead-instance', ttlMs: 60_000 }): NewSend {
  const now = new Date().toISOString();
  const { conversationId, owner } = run;
  return {
    idempotencyKey: null,
    conversation: { id: conversationId, owner, title: null, createdAt: now, updatedAt: now },
    title: 'Hello there',
    message: { id: run.userMessageId, conversationId, role: 'USER', text: run.input.text, agentId: null, runId: run.id, seq: 0, createdAt: now },
    run,
    lease,
    maxActiveRuns: 100,
  };
}

/** Stores a send as the Experience plane does through `runtime`, and hands its run on. */
export async function storeSend(backend: Backend, runtime: Runtime, conversationId: string): Promise<RunRecord> {
  const { run, lease } = runtime.draft({
    runId: randomUUID(),
    conversationId,
    owner: { userId: 'someone', tenantId: null },
    agentId: 'guide',
    userMessageId: randomUUID(),
    input: { text: 'Hello there', surface: 'HOME', projectId: null, context: null },
  });
  const outcome = await backend.sends.commit(helloSend(run, lease));
  if (outcome.outcome !== 'stored') throw new Error(`the send was not stored: ${outcome.outcome}`);
  await runtime.accepted(run);
  return run;
}
