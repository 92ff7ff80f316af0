/**
 * The intent queue on Redis, and workers over it in this process: delivery to one consumer,
 * acknowledgement, taking over what a dead consumer claimed, retiring a consumer; a worker's
 * graceful stop past its grace period (its run ends as SHUTDOWN, retryable, and the run queued
 * behind it is handed to the next worker at once).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_AGENTS } from '../../src/agents/index.ts';
import { AgentRegistry } from '../../src/agents/registry.ts';
import { followConversation } from '../../src/events/follow.ts';
import { TERMINAL_EVENT_TYPES, type StoredEvent } from '../../src/domain/events.ts';
import { PLATFORM_TOOLS } from '../../src/runtime/platform-tools.ts';
import { ToolRegistry } from '../../src/runtime/tools.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { RuntimeWorker } from '../../src/runtime/worker.ts';
import { createRedisBackend, type RedisBackend } from '../../src/store/redis/index.ts';
import { createClient } from 'redis';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, storeSend } from '../contract/worlds.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';

/** Polls (bounded) until `check` holds. */
async function until(check: () => Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the condition did not come true in time');
    await delay(10);
  }
}

/** A script that keeps Redis from answering anyone else for 200 ms. */
const BUSY_FOR_200_MS = `
local now = function() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end
local start = now()
repeat until now() - start > 200000
return 1
`;

describe('the intent queue and workers on Redis', () => {
  let redis: TestRedis;
  let raw: ReturnType<typeof createClient>;
  const backends: RedisBackend[] = [];
  const stoppers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    raw = createClient({ url: redis.url });
    await raw.connect();
  });
  afterEach(async () => {
    await Promise.all(stoppers.splice(0).map((stop) => stop()));
    await Promise.all(backends.splice(0).map((backend) => backend.close()));
  });
  afterAll(async () => {
    await raw?.close();
    await redis?.stop();
  });

  /** A fresh deployment (its own key prefix), seen through `count` processes' backends. */
  const deployment = async (count = 1) => {
    const keyPrefix = `workers-${randomUUID()}:`;
    const created = await Promise.all(
      Array.from({ length: count }, () => createRedisBackend(redis.url, { ...BACKEND_SETTINGS, retention: DEFAULT_RETENTION, keyPrefix })),
    );
    backends.push(...created);
    return { keyPrefix, backends: created };
  };

  const settings = {
    agents: new AgentRegistry(BUILT_IN_AGENTS),
    tools: new ToolRegistry(PLATFORM_TOOLS),
    runTimeoutMs: 60_000,
    historyMessages: 200,
    logger: pino({ level: 'silent' }),
    leaseMs: 1000,
    sweepIntervalMs: 100,
    inputTimeoutMs: 60_000,
  };

  it('delivers each intent to one consumer, counts it until acknowledged, and creates its group on first use', async () => {
    const {
      backends: [backend],
    } = await deployment();
    const { intents } = backend!;
    // Appended before any worker ever claimed: the group is created from the stream's start.
    await intents.append({ runId: 'r1', conversationId: 'c1' });
    await intents.append({ runId: 'r2', conversationId: 'c2' });
    expect(await intents.outstanding()).toBe(2);
    const first = await intents.claim('a', 1, 10);
    const second = await intents.claim('b', 5, 10);
    expect(first.map(({ runId, conversationId }) => [runId, conversationId])).toEqual([['r1', 'c1']]);
    expect(second.map(({ runId }) => runId)).toEqual(['r2']);
    expect(await intents.claim('b', 5, 10)).toEqual([]);
    expect(await intents.outstanding()).toBe(2);
    await intents.ack(first[0]!.entryId);
    await intents.ack(second[0]!.entryId);
    expect(await intents.outstanding()).toBe(0);
  });

  it('gives the first claim time to open its connection, however short its block', async () => {
    const {
      backends: [backend],
    } = await deployment();
    const { intents } = backend!;
    await intents.append({ runId: 'r1', conversationId: 'c1' });
    // Redis stays busy for 200 ms (a script that loops until then), so the claim's new connection
    // opens long after the claim's 10 ms block; a loaded machine can be that slow to connect.
    const busy = raw.eval(BUSY_FOR_200_MS);
    const claimed = await intents.claim('first', 1, 10);
    await busy;
    expect(claimed.map(({ runId }) => runId)).toEqual(['r1']);
  });

  it('lets another consumer take over what a consumer claimed and never acknowledged, once idle long enough', async () => {
    const {
      backends: [backend],
    } = await deployment();
    const { intents } = backend!;
    await intents.append({ runId: 'r1', conversationId: 'c1' });
    const [claimed] = await intents.claim('dead', 1, 10);
    expect(await intents.reclaimIdle('alive', 60_000, 10)).toEqual([]);
    const taken = await intents.reclaimIdle('alive', 0, 10);
    expect(taken).toEqual([claimed]);
    await intents.ack(taken[0]!.entryId);
    expect(await intents.reclaimIdle('alive', 0, 10)).toEqual([]);
  });

  it('retires a consumer only once it has nothing pending, and recreates a group Redis lost', async () => {
    const {
      keyPrefix,
      backends: [backend],
    } = await deployment();
    const { intents } = backend!;
    const consumers = async () =>
      ((await raw.sendCommand(['XINFO', 'CONSUMERS', `${keyPrefix}intents`, 'workers'])) as unknown[][]).map((fields) => String(fields[1]));
    await intents.append({ runId: 'r1', conversationId: 'c1' });
    const [claimed] = await intents.claim('w1', 1, 10);
    await intents.retire('w1');
    expect(await consumers()).toEqual(['w1']);
    await intents.ack(claimed!.entryId);
    await intents.retire('w1');
    expect(await consumers()).toEqual([]);

    await raw.del(`${keyPrefix}intents`);
    await intents.append({ runId: 'r2', conversationId: 'c2' });
    expect((await intents.claim('w2', 1, 10)).map(({ runId }) => runId)).toEqual(['r2']);
  });

  it('ends a run still executing when the grace period is over as SHUTDOWN and hands the next one to another worker', async () => {
    const {
      keyPrefix,
      backends: [gatewaySide, firstSide, secondSide],
    } = await deployment(3);
    const runtime = new Runtime({ ...settings, backend: gatewaySide!, stepDelayMs: 20, workers: { queue: gatewaySide!.intents, maxQueuedRuns: 100 } });
    stoppers.push(() => runtime.shutdown());
    const worker = (backend: RedisBackend) => {
      const started = new RuntimeWorker({ ...settings, backend, stepDelayMs: 20, queue: backend.intents, concurrency: 2, claimBlockMs: 50 });
      started.start();
      stoppers.push(() => started.stop(0));
      return started;
    };
    const first = worker(firstSide!);

    const conversationId = randomUUID();
    const doomed = (await storeSend(gatewaySide!, runtime, conversationId)).id;
    const next = (await storeSend(gatewaySide!, runtime, conversationId)).id;
    const controller = new AbortController();
    const following = (async () => {
      for await (const event of followConversation(gatewaySide!.events, conversationId, { afterSeq: 0, bufferLimit: 1000, signal: controller.signal })) {
        if (event.type === 'AgentToken') break;
      }
    })();
    await following;
    expect(first.executing).toBe(1);
    // The worker has a slot left, so it takes up the next run's intent too, and acknowledges it:
    // that run waits behind the first, whose executor moves the queue on when it ends.
    await until(async () => (await gatewaySide!.intents.outstanding()) === 0);

    await first.stop(1); // not long enough to finish the run
    // The stopping worker handed the next run on in a fresh intent rather than leave it to a lease.
    const entries = (await raw.sendCommand(['XRANGE', `${keyPrefix}intents`, '-', '+'])) as [string, string[]][];
    expect(entries.map(([, fields]) => fields[fields.indexOf('runId') + 1])).toEqual([next]);
    expect(await gatewaySide!.runs.get(doomed)).toMatchObject({ status: 'FAILED', error: { code: 'SHUTDOWN', retryable: true } });
    expect((await gatewaySide!.runs.get(next))?.status).toBe('QUEUED');

    worker(secondSide!);
    const ends: StoredEvent[] = [];
    for await (const event of followConversation(gatewaySide!.events, conversationId, { afterSeq: 0, bufferLimit: 1000, signal: controller.signal })) {
      if (TERMINAL_EVENT_TYPES.has(event.type)) ends.push(event);
      if (ends.length === 2) break;
    }
    expect(ends.map((event) => [event.runId, event.type])).toEqual([
      [doomed, 'AgentFailed'],
      [next, 'AgentCompleted'],
    ]);
    controller.abort();
  });
});
