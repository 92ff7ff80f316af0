/**
 * Redis as the store of record (REDIS_URL alone), when Redis loses a conversation's log (a
 * flush, a restart without persistence): the next send to the conversation begins its log again
 * from seq 1. A live subscription and a resume from a seq of the lost log end with
 * EVENTS_EXPIRED, so that the client reloads, and are never handed the new log's events under
 * seqs that named other events.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { awaitRunEnd, expectGapless, send, sendAndFollow } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const seqsOf = (events: AgentEvent[]) => events.map((event) => event.seq);

describe('Redis as the store of record, when it loses a conversation log', () => {
  let redis: TestRedis;
  let admin: ReturnType<typeof createClient>;
  let server: RunningServer;
  let token: string;
  const clients: ReturnType<typeof wsClient>[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = createClient({ url: redis.url });
    await admin.connect();
    server = await startTestServer({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: `agw-test-${randomUUID()}:` });
    token = await tokenFor(`forgotten-${randomUUID()}`);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await server?.close();
    admin?.destroy();
    await redis?.stop();
  });

  const subscribe = (conversationId: string, afterSeq: number | null) => {
    const client = wsClient(server.url, token);
    clients.push(client);
    return new EventRecorder(client, { conversationId, afterSeq });
  };
  const gql = (query: string, variables: Record<string, unknown>) => userClient(server.url, token)(query, variables);

  it('ends a live subscription and a resume across the loss with EVENTS_EXPIRED, never a seq given again', async () => {
    expect(server.gateway.backend.kind).toBe('redis');
    const conversationId = `lost-${randomUUID()}`;
    const first = await sendAndFollow(server.url, token, { text: 'Hello', conversationId });
    const second = await sendAndFollow(server.url, token, { text: 'Compare the insights and the outcomes of the quarter', conversationId });
    const lastSeq = second.events.at(-1)!.seq;
    const live = subscribe(conversationId, 0);
    await live.until((events) => events.length === lastSeq, 'the whole conversation');

    await admin.flushAll();
    // The same client-chosen id makes the conversation again, with a log begun anew.
    const again = await send(server.url, token, { text: 'Hello', conversationId });
    expect(again.afterSeq).toBe(0);
    await live.untilEnded();
    expect(live.errors?.[0]?.extensions?.['code']).toBe('EVENTS_EXPIRED');
    expect(seqsOf(live.events)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    expect(new Set(live.events.map((event) => event.runId))).toEqual(new Set([first.sent.runId, second.sent.runId]));

    expect(await awaitRunEnd(server.url, token, again.runId)).toBe('COMPLETED');
    const newLastSeq = (await gql('query ($id: ID!) { conversation(id: $id) { lastSeq } }', { id: conversationId })).data.conversation.lastSeq;
    // Shorter than what the client held, so its cursor is past the new log's end: that tells the logs apart.
    expect(newLastSeq).toBeLessThan(lastSeq);
    const resumed = subscribe(conversationId, lastSeq);
    await resumed.untilEnded();
    expect(resumed.errors?.[0]?.extensions?.['code']).toBe('EVENTS_EXPIRED');
    expect(resumed.events).toEqual([]);
    const page = await gql('query ($id: ID!, $after: Int!) { conversation(id: $id) { events(afterSeq: $after) { seq } } }', {
      id: conversationId,
      after: lastSeq,
    });
    expect(page.errors?.[0]?.extensions?.['code']).toBe('EVENTS_EXPIRED');

    // Reloading shows the conversation as it is now: the new run alone.
    const reloaded = subscribe(conversationId, 0);
    const events = await reloaded.until((received) => received.length === newLastSeq, 'the new log');
    reloaded.stop();
    expect(events.every((event) => event.runId === again.runId)).toBe(true);
    expectGapless(events);
  });
});
