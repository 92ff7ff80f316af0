/**
 * What a send and its run cost on the Redis backend (REDIS_URL alone), in commands sent to
 * Redis, counted by the gateway itself (agent_gateway_redis_commands_total), and in writes to
 * Redis (commands that do not wait for each other go out in one): each write is a round trip the
 * run waits for, and a wake-up of Redis and then of the gateway. For one unwatched send and its
 * whole run: the send, the run's start, its events, its end and the queue moving on. The bounds
 * are what the code needs today: a change that adds a round trip to this path fails here and has
 * to say why. Then what a send costs on a Redis Cluster alone, and on one Redis, counted in the
 * store.
 */
import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import type { RunningServer } from '../../src/server.ts';
import { tokenFor, userClient } from '../support/clients.ts';
import { metricValue } from '../support/metrics.ts';
import { redisCommandsSent } from '../../src/store/redis/command-count.ts';
import { createRedisBackend, type RedisTarget } from '../../src/store/redis/index.ts';
import { capturingLogger } from '../support/logs.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import type { Backend } from '../../src/store/interfaces.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, helloRun, helloSend, until } from './worlds.ts';
import { startTestServer } from '../support/server.ts';
import { awaitRunEnd, send } from '../support/runs.ts';
import { createBackend } from '../../src/store/backends.ts';
import { runQueueLock } from '../../src/store/interfaces.ts';

const COMMANDS = 'agent_gateway_redis_commands_total';
const TOKENS = 200;
const SEND_FOR_RUN_ID = `mutation ($input: SendAgentMessageInput!) { sendAgentMessage(input: $input) { run { id } } }`;

/** Streams as many word tokens as its message asks ("tokens N"), as the benchmarks' agent does. */
const tokensAgent: AgentDefinition = {
  id: 'test.tokens',
  kind: 'LIAISON',
  pillar: null,
  name: 'Tokens',
  description: 'Streams N word tokens.',
  async run(context) {
    const count = Number(/tokens (\d+)/.exec(context.input.text)?.[1] ?? 0);
    await context.say(Array.from({ length: count }, (_, index) => `t${index} `).join(''));
  },
};

/** Streams as many deltas as its message asks ("tokens N"), one per macrotask, as a model's reply comes in. */
const pacedTokensAgent: AgentDefinition = {
  id: 'test.paced-tokens',
  kind: 'LIAISON',
  pillar: null,
  name: 'Paced tokens',
  description: 'Streams N word tokens, one per macrotask.',
  async run(context) {
    const count = Number(/tokens (\d+)/.exec(context.input.text)?.[1] ?? 0);
    for (let index = 0; index < count; index += 1) {
      await context.stream(`t${index} `);
      await new Promise((resolve) => setImmediate(resolve));
    }
  },
};

describe('Redis round trips of a send and its run', () => {
  let redis: TestRedis;
  let token: string;

  /** A gateway on the Redis backend alone that executes its runs itself, and sweeps for none meanwhile. */
  const startGateway = (settings: Record<string, string> = {}) =>
    startTestServer(
      { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `agw-trips-${randomUUID()}:`, RUN_SWEEP_INTERVAL_MS: '3600000', ...settings },
      { agents: [tokensAgent, pacedTokensAgent] },
    );

  /** Runs a message of `tokens` tokens to its end on a gateway of its own; the Redis commands the gateway sent for it. */
  async function commandsOfOneRun(tokens: number, agent = tokensAgent, settings: Record<string, string> = {}): Promise<number> {
    return (await oneRun(tokens, agent, settings)).commands;
  }

  /** As commandsOfOneRun, with the writes on the gateway's sockets to Redis meanwhile. */
  async function oneRun(tokens: number, agent = tokensAgent, settings: Record<string, string> = {}): Promise<{ commands: number; writes: number }> {
    const server = await startGateway(settings);
    const writes = countWritesTo(Number(new URL(redis.url).port));
    try {
      const before = await metricValue(server.url, COMMANDS);
      const writesBefore = writes.count;
      await sendTokens(server, tokens, agent);
      await ended(server);
      // Waits for the run's executor to finish (the run counts as completed a little before its
      // terminal event is stored) and for its queue to move on: their last commands count too.
      await server.gateway.runtime.shutdown(60_000);
      return { commands: (await metricValue(server.url, COMMANDS)) - before, writes: writes.count - writesBefore };
    } finally {
      writes.stop();
      await server.close();
    }
  }

  /** Sends as a client that wants only the run's id back (the payload's other fields may cost reads of their own). */
  async function sendTokens(server: RunningServer, tokens: number, agent = tokensAgent): Promise<void> {
    const input = { text: `tokens ${tokens}`, target: { kind: 'LIAISON', agentId: agent.id } };
    const response = await userClient(server.url, token)(SEND_FOR_RUN_ID, { input });
    expect(response.errors).toBeUndefined();
  }

  /** Resolves once the gateway has counted a completed run (read from its metrics, which send nothing to Redis). */
  async function ended(server: RunningServer): Promise<void> {
    while ((await metricValue(server.url, 'agent_gateway_runs_total', { status: 'COMPLETED' })) < 1);
  }

  beforeAll(async () => {
    redis = await startRedis();
    token = await tokenFor('round-trips');
    // Redis learns the scripts once (a first EVALSHA falls back to EVAL): not what a run costs.
    const warm = await startGateway();
    await sendTokens(warm, 3);
    await ended(warm);
    await warm.close();
  });
  afterAll(() => redis?.stop());

  it('a send and its run without tokens', async () => {
    const commands = await commandsOfOneRun(0);
    expect(commands).toBeGreaterThan(0);
    // The send (one script, its rate window counted in it: a command of its own before), the
    // run's start in one script (while it took the queue's lock, read the head, took the lease,
    // moved the run and let go of the lock, each was a command), which also stores its
    // AgentStarted and reads its history and the live layer's generation (three commands
    // before), and its end in one script: its status, its terminal event with the reply, its
    // conversation's touch, its leaving the queue (which tells whether the queue is empty) and
    // its lease (five commands before). At first 19, then 15 with no renewal of the lease
    // before the terminal event and no lock to find the queue empty, then 6.
    expect(commands).toBeLessThanOrEqual(3);
  });

  it('a send and its run without tokens, in writes to Redis', async () => {
    const { commands, writes } = await oneRun(0);
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(commands);
    // The send counts its rate window in its script (a write of its own before), the run starts
    // in one script which also stores its AgentStarted and reads its history (five writes one
    // after the other under the queue's lock before, then one more for the history read beside
    // AgentStarted), and a completed run ends in one script (three writes before: its status,
    // then its terminal event, then its conversation's touch, its leaving the queue and its lease
    // together): 13 writes at first, 10 once a look at the queue no longer followed the end and
    // the history was read beside AgentStarted, 4 with the start and the end in a script each.
    expect(writes).toBeLessThanOrEqual(3);
  });

  // Tokens go out in batches (one script each) as fast as Redis answers: at worst one per token.
  it(`a send and its run per token, over ${TOKENS} tokens`, async () => {
    const bare = await commandsOfOneRun(0);
    const streamed = await commandsOfOneRun(TOKENS);
    expect((streamed - bare) / TOKENS).toBeLessThanOrEqual(1);
  });

  // A model streaming fast: its tokens wait for the coalescing window after each of the run's
  // appends (its AgentStarted the first), so a run whose tokens all come within one window still
  // holds them all when its agent finishes, and they go with the run's end in its one script:
  // no command of their own, however many they are. Without the window each append took what
  // had come while the one before it was in flight (a script for every few tokens); with it but
  // apart from the end, one script more.
  it(`a send and its run, ${TOKENS} tokens streamed one per macrotask within one coalescing window`, async () => {
    const oneWindow = { APPEND_COALESCE_MS: '3600000' };
    const bare = await commandsOfOneRun(0, pacedTokensAgent, oneWindow);
    const streamed = await commandsOfOneRun(TOKENS, pacedTokensAgent, oneWindow);
    expect(streamed - bare).toBe(0);
  });
});

/**
 * A run queued behind another, on one Redis: each send's look at the queue finds its answer in
 * one script (the first run starts; the second finds it executing), and the second starts in one
 * when the first completes. None of them takes the queue's lock, which the long way takes three
 * times (with a read of the head each, and a release).
 */
describe("the queue's lock on one Redis", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  it('is not taken for a run queued behind another, nor for its start when the first completes', async () => {
    const releases: (() => void)[] = [];
    const started: string[] = [];
    /** Each run waits until the test lets it go on. */
    const waiting: AgentDefinition = {
      id: 'test.waiting',
      kind: 'LIAISON',
      pillar: null,
      name: 'Waiting',
      description: 'Waits to be let go.',
      async run(context) {
        started.push(context.input.text);
        await new Promise<void>((resolve) => releases.push(resolve));
        await context.say('done');
      },
    };
    const locks: string[] = [];
    const server = await startTestServer(
      { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `agw-locks-${randomUUID()}:`, RUN_SWEEP_INTERVAL_MS: '3600000' },
      {
        agents: [waiting],
        // The backend the settings ask for, with every lock it takes noted.
        backend: async (config, logger) => {
          const backend = await createBackend(config, logger);
          const withLock = backend.locks.withLock.bind(backend.locks);
          backend.locks.withLock = (key, fn) => {
            locks.push(key);
            return withLock(key, fn);
          };
          return backend;
        },
      },
    );
    try {
      const token = await tokenFor('queued');
      const target = { kind: 'LIAISON', agentId: waiting.id };
      const first = await send(server.url, token, { text: 'first', target });
      await until(async () => (started.length === 1 ? true : undefined), 'the first run to start');
      const second = await send(server.url, token, { text: 'second', target, conversationId: first.conversationId });
      releases.shift()!();
      // The second starts once the first has completed (its turn comes after the first's end).
      await until(async () => (started.length === 2 ? true : undefined), 'the second run to start');
      releases.shift()!();
      expect(await awaitRunEnd(server.url, token, second.runId)).toBe('COMPLETED');
      const status = async (runId: string) =>
        (await userClient(server.url, token)(`query ($id: ID!) { run(id: $id) { status } }`, { id: runId })).data.run.status;
      expect(await status(first.runId)).toBe('COMPLETED');
      expect(started).toEqual(['first', 'second']);
      expect(locks.filter((key) => key === runQueueLock(first.conversationId))).toEqual([]);
    } finally {
      for (const release of releases) release();
      await server.close();
    }
  });
});

/** Counts the writes (each one or more commands, sent together) on sockets to `port`, until stopped. */
function countWritesTo(port: number): { readonly count: number; stop(): void } {
  const prototype = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  const { _write: write, _writev: writev } = prototype;
  const counter = { count: 0, stop: () => Object.assign(prototype, { _write: write, _writev: writev }) };
  const counted = (original: (...args: unknown[]) => void) =>
    function (this: Socket, ...args: unknown[]) {
      if (this.remotePort === port) counter.count += 1;
      return original.apply(this, args);
    };
  Object.assign(prototype, { _write: counted(write), _writev: counted(writev) });
  return counter;
}

/**
 * A send stored by the Redis store of record, counted against its rate window: one script on one
 * Redis. On a cluster the keys of the send that are not its conversation's are in other slots
 * (docs/scaling.md, "The Redis store of record on a cluster"): its rate window, the run's lease
 * and the indexes of its run and message (three commands at once), the idempotency key's route,
 * the conversation's script, and the owner's list: seven commands, five round trips one after
 * the other. Counted once the scripts are known
 * where the send goes (a first send into the same conversation), as they are in a running
 * deployment, and once the backend has checked the Redis settings (which it says in its log).
 */
describe.each([
  { name: 'one Redis', commands: 1, start: async () => startRedis().then((redis) => ({ target: redis.url as RedisTarget, stop: () => redis.stop() })) },
  {
    name: 'a Redis Cluster',
    commands: 7,
    start: async () => startRedisCluster().then((cluster) => ({ target: { clusterNodes: cluster.urls } as RedisTarget, stop: () => cluster.stop() })),
  },
])('Redis commands of a send with an idempotency key and its rate window, on $name alone', ({ commands, start }) => {
  let redis: { target: RedisTarget; stop(): Promise<void> };
  let backend: Backend | undefined;

  beforeAll(async () => {
    redis = await start();
  });
  afterAll(async () => {
    await backend?.close();
    await redis?.stop();
  });

  it(`is ${commands}`, async () => {
    const { logger, lines } = capturingLogger();
    backend = await createRedisBackend(redis.target, { ...BACKEND_SETTINGS, retention: DEFAULT_RETENTION, keyPrefix: `t-${randomUUID()}:`, logger });
    // The test servers run without an append-only file: the check says so once it has read the settings.
    await until(async () => (lines.some((line) => String(line['msg']).includes('without appendonly')) ? true : undefined), 'the check of the settings');
    const conversationId = randomUUID();
    const rate = { key: `send:${randomUUID()}`, limit: 100, windowMs: 60_000 };
    const keyed = () => ({ ...helloSend(helloRun(conversationId)), idempotencyKey: `send:${randomUUID()}`, rate });
    expect((await backend.sends.commit(keyed())).outcome).toBe('stored');
    const before = redisCommandsSent();
    expect((await backend.sends.commit(keyed())).outcome).toBe('stored');
    expect(redisCommandsSent() - before).toBe(commands);
  });
});
