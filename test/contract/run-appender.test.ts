/**
 * A run's events appended in batches (RunAppender over `EventLog.appendBatch`), on memory and on
 * Redis, through two instances: every event stored once, in order, with no gap between batches,
 * and nothing of a run stored after a batch that failed. Then what only Redis shows: how few
 * script calls and notifications a burst costs, and a connection dropped under a batch in flight.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { GatewayError } from '../../src/errors.ts';
import type { StoredEvent } from '../../src/domain/events.ts';
import { LeaseLostError } from '../../src/store/event-log.ts';
import type { Backend } from '../../src/store/interfaces.ts';
import { createRedisBackend } from '../../src/store/redis/index.ts';
import { MAX_QUEUED_EVENTS, RunAppender } from '../../src/runtime/run-appender.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import {
  BACKEND_SETTINGS,
  DEFAULT_RETENTION,
  collect,
  helloRun,
  memoryWorld,
  postgresClusterWorld,
  postgresRedisWorld,
  redisClusterWorld,
  redisWorld,
  token,
  until,
  type Instances,
  type World,
} from './worlds.ts';

const worlds: World[] = [memoryWorld, redisWorld(), redisClusterWorld(), postgresRedisWorld(), postgresClusterWorld()];

const deltas = (events: readonly StoredEvent[]) => events.map((event) => (event.type === 'AgentToken' ? event.delta : event.type));
const numbered = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);

describe.each(worlds)('appending a run in batches on the $name backend', (world) => {
  let instances: Instances;
  let a: Backend;
  let b: Backend;

  beforeAll(() => world.setup());
  afterAll(() => world.teardown());
  afterEach(() => instances.close());
  const open = async () => {
    instances = await world.instances();
    ({ a, b } = instances);
  };

  it('stores a burst with consecutive seqs, each event once and in order, for followers on both instances', async () => {
    await open();
    const conversationId = randomUUID();
    const sent = numbered('t', 300);
    const onA = collect(a, conversationId, 0, sent.length + 1);
    const onB = collect(b, conversationId, 0, sent.length + 1);
    const appender = new RunAppender(a.events);
    for (const delta of sent) await appender.emit(token(conversationId, delta));
    const last = await appender.append({ conversationId, runId: 'run-1', agentId: 'guide', type: 'AgentCancelled', reason: 'done' });
    await appender.flush();
    expect(last.seq).toBe(sent.length + 1);
    const stored = await b.events.read(conversationId, 0, 1000);
    expect(stored.map((event) => event.seq)).toEqual(Array.from({ length: sent.length + 1 }, (_, i) => i + 1));
    expect(deltas(stored)).toEqual([...sent, 'AgentCancelled']);
    for (const follower of [onA, onB]) expect(await follower.done).toEqual(stored);
  });

  it('interleaves whole batches of two runs appending at once from both instances, with no gap or repeat', async () => {
    await open();
    const conversationId = randomUUID();
    const follower = collect(b, conversationId, 0, 400);
    const fromA = new RunAppender(a.events);
    const fromB = new RunAppender(b.events);
    await Promise.all([
      (async () => {
        for (const delta of numbered('a', 200)) await fromA.emit(token(conversationId, delta, 'run-a'));
      })(),
      (async () => {
        for (const delta of numbered('b', 200)) await fromB.emit(token(conversationId, delta, 'run-b'));
      })(),
    ]);
    await Promise.all([fromA.flush(), fromB.flush()]);
    const events = await follower.done;
    expect(events.map((event) => event.seq)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(deltas(events.filter((event) => event.runId === 'run-a'))).toEqual(numbered('a', 200));
    expect(deltas(events.filter((event) => event.runId === 'run-b'))).toEqual(numbered('b', 200));
  });

  it('stores nothing of a run after the batch its lease was taken over at, and fails every later emit', async () => {
    await open();
    const conversationId = randomUUID();
    // A stored run: a store of record apart from the live layer keeps its fence with it.
    const { id: runId } = helloRun(conversationId);
    await a.runs.create({ ...helloRun(conversationId), id: runId });
    const epoch = await a.leases.acquire(runId, conversationId, 'executor', 60_000);
    const appender = new RunAppender(a.events, { leaseEpoch: epoch });
    for (const delta of numbered('before', 5)) await appender.emit(token(conversationId, delta, runId));
    await appender.flush();
    // The survivor takes over while (or right after) the first of these is in flight.
    const after = numbered('after', 20);
    await appender.emit(token(conversationId, after[0]!, runId));
    await b.leases.acquire(runId, conversationId, 'survivor', 60_000);
    const refusals: unknown[] = [];
    for (const delta of after.slice(1)) await appender.emit(token(conversationId, delta, runId)).catch((error: unknown) => refusals.push(error));
    for (const refusal of refusals) expect(refusal).toBeInstanceOf(LeaseLostError);
    await expect(appender.flush()).rejects.toBeInstanceOf(LeaseLostError);
    await expect(appender.emit(token(conversationId, 'later', runId))).rejects.toBeInstanceOf(LeaseLostError);
    await expect(appender.append(token(conversationId, 'later', runId))).rejects.toBeInstanceOf(LeaseLostError);
    const stored = deltas(await b.events.read(conversationId, 0, 1000));
    // Whatever made it before the takeover is a prefix of what was emitted: no hole, nothing after.
    expect(stored.slice(0, 5)).toEqual(numbered('before', 5));
    expect(stored.slice(5)).toEqual(after.slice(0, stored.length - 5));
    expect(stored.length - 5).toBeLessThan(after.length);
  });
});

describe('appending a run in batches on Redis', () => {
  let redis: TestRedis;
  let admin: ReturnType<typeof createClient>;
  let listener: ReturnType<typeof createClient>;
  const opened: Backend[] = [];
  const open = async (keyPrefix: string) => {
    const backend = await createRedisBackend(redis.url, { ...BACKEND_SETTINGS, retention: DEFAULT_RETENTION, keyPrefix });
    opened.push(backend);
    return backend;
  };

  beforeAll(async () => {
    redis = await startRedis();
    admin = createClient({ url: redis.url });
    listener = admin.duplicate();
    await Promise.all([admin.connect(), listener.connect()]);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((backend) => backend.close()));
  });
  afterAll(async () => {
    admin?.destroy();
    listener?.destroy();
    await redis?.stop();
  });

  /** Calls of a command since the last CONFIG RESETSTAT, those made by scripts included. */
  const calls = async (command: string) => {
    const info = String(await admin.sendCommand(['INFO', 'commandstats']));
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  };

  /** The events each notification on the conversation's channel carries (one body a line). */
  const notifications = async (prefix: string, conversationId: string) => {
    const counts: number[] = [];
    await listener.subscribe(`${prefix}c:{${conversationId}}:bell`, (message) => counts.push(message.split('\n').length));
    return counts;
  };

  it('costs a burst of emits far fewer script calls and notifications than events, each batch bounded', async () => {
    const prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(prefix), await open(prefix)];
    const conversationId = randomUUID();
    const sent = numbered('t', 3 * MAX_QUEUED_EVENTS);
    const perNotification = await notifications(prefix, conversationId);
    const onA = collect(a, conversationId, 0, sent.length);
    const onB = collect(b, conversationId, 0, sent.length);
    const appender = new RunAppender(a.events);
    await admin.sendCommand(['CONFIG', 'RESETSTAT']);
    for (const delta of sent) await appender.emit(token(conversationId, delta));
    await appender.flush();
    // The append script numbers a batch with one INCRBY (followers' reads are scripts too, so
    // scripts as such are not counted); each event is one XADD.
    const appendCalls = await calls('incrby');
    expect(await calls('xadd')).toBe(sent.length);
    // The first event goes alone; then each call carries what queued while the one before was
    // in flight, up to the bound (emitting waits for room beyond it): 1 + 256 + 256 + 255.
    expect(appendCalls).toBe(4);
    const [fromA, fromB] = await Promise.all([onA.done, onB.done]);
    expect(deltas(fromA)).toEqual(sent);
    expect(fromB).toEqual(fromA);
    await until(async () => (perNotification.length === appendCalls ? true : undefined), 'every notification');
    expect(perNotification.reduce((sum, count) => sum + count, 0)).toBe(sent.length);
    expect(Math.max(...perNotification)).toBeLessThanOrEqual(MAX_QUEUED_EVENTS);
  });

  it("delivers this process's own batch as the events it stored, without parsing them again", async () => {
    const prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(prefix), await open(prefix)];
    const conversationId = randomUUID();
    await a.events.append(token(conversationId, 'first'));
    // The log's own listeners (what followers build on), each told of the newest event once
    // its subscription is in place: from then on, nothing else tells them of anything.
    const heard = (backend: Backend) => {
      const events: StoredEvent[] = [];
      let subscribed!: () => void;
      const ready = new Promise<void>((resolve) => (subscribed = resolve));
      const stop = backend.events.listen(conversationId, (event) => {
        if (event.seq === 1) subscribed();
        else events.push(event);
      });
      return { events, ready, stop };
    };
    const [onA, onB] = [heard(a), heard(b)];
    await Promise.all([onA.ready, onB.ready]);
    const stored = await a.events.appendBatch(['x', 'y', 'z'].map((delta) => token(conversationId, delta)));
    await until(async () => (onA.events.length === 3 && onB.events.length === 3 ? true : undefined), 'both to hear the batch');
    onA.stop();
    onB.stop();
    expect(onA.events.map((event, i) => event === stored[i])).toEqual([true, true, true]);
    expect(onB.events).toEqual(stored);
    expect(onB.events.map((event, i) => event === stored[i])).toEqual([false, false, false]);
  });

  it('stores nothing of a run after a batch whose connection dropped while it was in flight', async () => {
    const prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(prefix), await open(prefix)];
    const conversationId = randomUUID();
    const appender = new RunAppender(a.events);
    for (const delta of numbered('before', 5)) await appender.emit(token(conversationId, delta));
    await appender.flush();
    // Hold every write, so that the next batch is in flight when its connection goes.
    await admin.sendCommand(['CLIENT', 'PAUSE', '60000', 'WRITE']);
    let flushed: Promise<unknown>;
    try {
      for (const delta of numbered('after', 10)) await appender.emit(token(conversationId, delta));
      flushed = appender.flush().catch((error: unknown) => error);
      const held = await until(async () => {
        const clients = String(await admin.sendCommand(['CLIENT', 'LIST', 'TYPE', 'normal']));
        return /id=(\d+) .*cmd=evalsha/.exec(clients)?.[1];
      }, 'the batch to be held');
      await admin.sendCommand(['CLIENT', 'KILL', 'ID', held]);
    } finally {
      await admin.sendCommand(['CLIENT', 'UNPAUSE']);
    }
    expect(await flushed).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(await flushed).toBeInstanceOf(GatewayError);
    await until(() => a.ping().then(() => true), 'a to reconnect');
    await expect(appender.emit(token(conversationId, 'later'))).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    // The run's end goes in afresh, as the executor appends it: right after what was stored.
    await a.events.append({
      conversationId,
      runId: 'run-1',
      agentId: 'guide',
      type: 'AgentFailed',
      error: { code: 'UNAVAILABLE', message: 'gone', retryable: true },
    });
    expect(deltas(await b.events.read(conversationId, 0, 100))).toEqual([...numbered('before', 5), 'AgentFailed']);
  });
});
