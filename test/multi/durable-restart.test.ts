/**
 * PostgreSQL as the store of record, Redis for what is live: losing Redis' data loses nothing
 * that was acknowledged or delivered. Every process is stopped, Redis is emptied, fresh processes
 * start, and history, replay, idempotency and new sends go on exactly, with no seq given twice.
 * Runs active when Redis loses its data end with a retryable AgentFailed, as when their process
 * dies. And Redis holds only what is active: its keys do not grow with the conversations held.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { EventRecorder, SEND, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import type { BackendFactory } from '../../src/runtime-host.ts';
import { composeBackend } from '../../src/store/compose.ts';
import { createMemoryLiveLayer } from '../../src/store/memory/index.ts';
import { createPostgresRecordStore } from '../../src/store/postgres/index.ts';
import { retentionOf } from '../../src/store/registration.ts';
import { startPostgres, type TestPostgres } from '../support/postgres-server.ts';
import { startTestServer } from '../support/server.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { until } from '../contract/worlds.ts';
import { CONVERSATION, CONVERSATIONS, clusterEnv, startInstance, type Instance } from './support.ts';

const EVENTS_PAGE = 'query ($id: ID!) { conversation(id: $id) { lastSeq events(afterSeq: 0, first: 1000) { __typename seq runId } } }';

// Each test starts and restarts several gateway processes (each compiling its sources at start):
// 9 s on a quiet 2-core machine, past the default 30 s while the rest of the suite runs beside it.
describe('PostgreSQL and Redis, when Redis loses its data', { timeout: 90_000 }, () => {
  let redis: TestRedis;
  let postgres: TestPostgres;
  let admin: ReturnType<typeof createClient>;
  let env: Record<string, string>;
  const instances: Instance[] = [];
  const clients: ReturnType<typeof wsClient>[] = [];

  beforeAll(async () => {
    [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
    admin = createClient({ url: redis.url });
    await admin.connect();
    env = clusterEnv(redis.url, { DATABASE_URL: await postgres.createDatabase() });
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all(instances.map((instance) => instance.process.kill()));
    admin?.destroy();
    await Promise.all([redis?.stop(), postgres?.stop()]);
  });

  async function start(name: string, overrides: Record<string, string> = {}): Promise<Instance> {
    const instance = await startInstance(name, { ...env, ...overrides });
    instances.push(instance);
    return instance;
  }

  /** Sends through `url` and follows the run there to its terminal event; returns the run's events. */
  async function converse(url: string, token: string, input: Record<string, unknown>) {
    const sent = (await userClient(url, token)(SEND, { input })).data.sendAgentMessage;
    const client = wsClient(url, token);
    clients.push(client);
    const recorder = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq });
    const events = await recorder.untilTerminals(1);
    recorder.stop();
    return { sent, events };
  }

  /** Every event of a conversation, replayed through agentEvents from the start, up to its lastSeq. */
  async function replay(url: string, token: string, conversationId: string, lastSeq: number): Promise<AgentEvent[]> {
    const client = wsClient(url, token);
    clients.push(client);
    const recorder = new EventRecorder(client, { conversationId, afterSeq: 0 });
    const events = await recorder.until((received) => received.length >= lastSeq, `${lastSeq} events`);
    recorder.stop();
    return events;
  }

  it('keeps history, replay and idempotency across a restart of every process with Redis emptied, and never repeats a seq', async () => {
    const [a, b] = await Promise.all([start('a'), start('b')]);
    const token = await tokenFor(`durable-${randomUUID()}`);
    const clientMessageId = randomUUID();
    const first = await converse(a.url, token, { text: 'Hello there', clientMessageId });
    const conversationId = first.sent.conversation.id;
    const second = await converse(b.url, token, { text: 'Compare the insights and the outcomes of the quarter', conversationId });
    expect(second.events.at(-1)?.__typename).toBe('AgentCompleted');
    const before = (await userClient(a.url, token)(CONVERSATION, { id: conversationId })).data.conversation;
    const beforeEvents = await replay(b.url, token, conversationId, before.lastSeq);

    await Promise.all(instances.splice(0).map((instance) => instance.process.kill()));
    await admin.flushAll();
    const [c, d] = await Promise.all([start('c'), start('d')]);

    // History and replay: the same, through queries and through the subscription.
    expect((await userClient(c.url, token)(CONVERSATION, { id: conversationId })).data.conversation).toEqual(before);
    expect((await userClient(d.url, token)(CONVERSATIONS)).data.conversations).toEqual([{ id: conversationId }]);
    expect(await replay(d.url, token, conversationId, before.lastSeq)).toEqual(beforeEvents);
    // Idempotency: the first send's key still answers with what it stored.
    const repeated = (await userClient(d.url, token)(SEND, { input: { text: 'Hello there', clientMessageId } })).data.sendAgentMessage;
    expect(repeated.run.id).toBe(first.sent.run.id);
    expect(repeated.message.id).toBe(first.sent.message.id);
    // New sends go on from the last seq, without a gap or a repeat.
    const third = await converse(c.url, token, { text: 'And what next?', conversationId });
    expect(third.sent.afterSeq).toBe(before.lastSeq);
    expect(third.events.map((event) => event.seq)).toEqual(third.events.map((_, index) => before.lastSeq + 1 + index));
    const after = (await userClient(d.url, token)(EVENTS_PAGE, { id: conversationId })).data.conversation;
    expect(after.events.map((event: AgentEvent) => event.seq)).toEqual(Array.from({ length: after.lastSeq }, (_, index) => index + 1));
  });

  it('ends a run that is executing when Redis loses its data with a retryable AgentFailed, and goes on', async () => {
    const [slow, fast] = await Promise.all([start('slow', { AGENT_STEP_DELAY_MS: '500' }), start('fast')]);
    const token = await tokenFor(`durable-${randomUUID()}`);
    const sent = (await userClient(slow.url, token)(SEND, { input: { text: 'Hello there' } })).data.sendAgentMessage;
    const client = wsClient(slow.url, token);
    clients.push(client);
    const recorder = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq });
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentStarted'), 'AgentStarted');

    await admin.flushAll();
    const events = await recorder.untilTerminals(1);
    const terminal = events.find(isTerminal)!;
    expect(terminal.__typename).toBe('AgentFailed');
    expect(terminal['error']).toMatchObject({ retryable: true });
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => sent.afterSeq + 1 + index));
    // The conversation takes new runs at once, through any instance.
    const next = await converse(fast.url, token, { text: 'Hello again', conversationId: sent.conversation.id });
    expect(next.sent.afterSeq).toBe(terminal.seq);
    expect(next.events.at(-1)?.__typename).toBe('AgentCompleted');
  });

  it('holds keys in Redis for what is active or recent only: 200 finished conversations leave as many keys as 20', async () => {
    // A conversation's hot tail outlives its last event by this window, then expires. A deployment
    // of its own (database and key prefix): the other tests' instances are still up.
    const prefix = `counting-${randomUUID()}:`;
    const gateway = await start('counting', { REDIS_HOT_WINDOW_MS: '300', REDIS_KEY_PREFIX: prefix, DATABASE_URL: await postgres.createDatabase() });
    const keyCount = async () => {
      // Expiry has no event to await: poll until the tails of the conversations just held are gone.
      await until(async () => ((await admin.keys(`${prefix}*:tail`)).length === 0 ? true : undefined), 'the hot tails to expire');
      return (await admin.keys(`${prefix}*`)).length;
    };
    // One user: a user's send rate counter is a key of its own (expiring with its window).
    const token = await tokenFor(`counted-${randomUUID()}`);
    const converseMany = async (count: number) => {
      for (let i = 0; i < count; i += 1) await converse(gateway.url, token, { text: 'Hello there' });
    };
    await converseMany(20);
    const after20 = await keyCount();
    await converseMany(180);
    const after200 = await keyCount();
    expect(after200).toBe(after20);
  });
});

describe("an application's own storage, given to startServer", () => {
  let postgres: TestPostgres;
  beforeAll(async () => {
    postgres = await startPostgres();
  });
  afterAll(() => postgres?.stop());

  it('PostgreSQL as the store of record with the live layer in this process keeps the history of one instance across its restart', async () => {
    const database = await postgres.createDatabase();
    let made = 0;
    const backend: BackendFactory = async (config) => {
      made += 1;
      const record = await createPostgresRecordStore(database, { retention: retentionOf(config), idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS });
      return composeBackend(record, createMemoryLiveLayer());
    };
    const token = await tokenFor(`own-${randomUUID()}`);
    const first = await startTestServer({}, { backend });
    let before;
    let conversationId: string;
    try {
      expect(first.gateway.backend.kind).toBe('postgres+memory');
      const sent = (await userClient(first.url, token)(SEND, { input: { text: 'Hello there' } })).data.sendAgentMessage;
      conversationId = sent.conversation.id;
      const client = wsClient(first.url, token);
      const recorder = new EventRecorder(client, { conversationId, afterSeq: sent.afterSeq });
      await recorder.untilTerminals(1);
      await client.dispose();
      before = (await userClient(first.url, token)(CONVERSATION, { id: conversationId })).data.conversation;
    } finally {
      await first.close();
    }
    const second = await startTestServer({}, { backend });
    try {
      expect((await userClient(second.url, token)(CONVERSATION, { id: conversationId })).data.conversation).toEqual(before);
      expect(made).toBe(2);
    } finally {
      await second.close();
    }
  });
});
