import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { awaitRunEnd, expectGapless, expectRunInvariants, send, sendAndFollow } from '../support/runs.ts';
import { awaitActiveSubscriptions, startTestServer } from '../support/server.ts';

const subscribe = (server: RunningServer, token: string, conversationId: string, afterSeq?: number | null) => {
  const client = wsClient(server.url, token);
  const recorder = new EventRecorder(client, { conversationId, afterSeq });
  return { client, recorder, close: async () => (recorder.stop(), await client.dispose()) };
};

const seqsOf = (events: AgentEvent[]) => events.map((event) => event.seq);

describe('replay, resume and live delivery', () => {
  let server: RunningServer;
  let token: string;
  beforeAll(async () => {
    // Slow enough that subscriptions start while the run is still streaming.
    server = await startTestServer({ AGENT_STEP_DELAY_MS: '5' });
    token = await tokenFor('resumer');
  });
  afterAll(() => server.close());

  it('replays a finished run whole, however late the subscription starts', async () => {
    const { sent, events: live } = await sendAndFollow(server.url, token, { text: 'Hello' });
    const late = subscribe(server, token, sent.conversationId, sent.afterSeq);
    const replayed = await late.recorder.untilTerminals(1);
    await late.close();
    expect(replayed).toEqual(live);
    expectRunInvariants(replayed, sent);
    expectGapless(replayed);
  });

  it('joins a streaming run at any point with no gap and no duplicate between replay and live', async () => {
    const sent = await send(server.url, token, { text: 'Hello again, tell me everything' });
    const first = subscribe(server, token, sent.conversationId, sent.afterSeq);
    // Start more subscriptions while the run streams: from the start, from mid-way, and live only.
    await first.recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'a token');
    const midSeq = first.recorder.events.at(-1)!.seq;
    const fromStart = subscribe(server, token, sent.conversationId, sent.afterSeq);
    const fromMiddle = subscribe(server, token, sent.conversationId, midSeq);
    const liveOnly = subscribe(server, token, sent.conversationId, null);
    const all = await first.recorder.untilTerminals(1);
    const [start, middle, live] = (await Promise.all([fromStart, fromMiddle, liveOnly].map((subscription) => subscription.recorder.untilTerminals(1)))) as [
      AgentEvent[],
      AgentEvent[],
      AgentEvent[],
    ];
    await Promise.all([first, fromStart, fromMiddle, liveOnly].map((subscription) => subscription.close()));

    expectRunInvariants(all, sent);
    expectGapless(all, sent.afterSeq + 1);
    expect(start).toEqual(all);
    expect(middle).toEqual(all.filter((event) => event.seq > midSeq));
    // Live-only starts wherever the log was when it subscribed, and is gapless from there.
    expect(live.length).toBeGreaterThan(0);
    expect(live).toEqual(all.slice(all.findIndex((event) => event.seq === live[0]!.seq)));
  });

  it('resumes after a reconnect from the last seq seen, losing nothing', async () => {
    const sent = await send(server.url, token, { text: 'Hello once more, at length' });
    const before = subscribe(server, token, sent.conversationId, sent.afterSeq);
    await before.recorder.until((events) => events.filter((event) => event.__typename === 'AgentToken').length >= 3, '3 tokens');
    await before.close();
    const seen = [...before.recorder.events];
    const after = subscribe(server, token, sent.conversationId, seen.at(-1)!.seq);
    const rest = await after.recorder.untilTerminals(1);
    await after.close();
    const whole = [...seen, ...rest];
    expectGapless(whole, sent.afterSeq + 1);
    expectRunInvariants(whole, sent);
  });

  it('without afterSeq delivers only what happens after subscribing', async () => {
    const { sent } = await sendAndFollow(server.url, token, { text: 'First' });
    await awaitActiveSubscriptions(server, 0);
    const live = subscribe(server, token, sent.conversationId);
    await awaitActiveSubscriptions(server, 1);
    const next = await send(server.url, token, { text: 'Second', conversationId: sent.conversationId });
    const events = await live.recorder.untilTerminals(1);
    await live.close();
    expect(events.every((event) => event.runId === next.runId)).toBe(true);
    expect(events[0]?.__typename).toBe('MessageCreated');
  });

  it('rejects an afterSeq past the conversation and a negative one', async () => {
    const { sent } = await sendAndFollow(server.url, token, { text: 'Hi' });
    const lastSeq = (await userClient(server.url, token)(`{ conversation(id: "${sent.conversationId}") { lastSeq } }`)).data.conversation.lastSeq;
    // Where Redis is the store of record, a seq past the end was given out by a log Redis has
    // lost since: the client reloads. Elsewhere no log gives a seq twice, so it is the client's mistake.
    const { REDIS_URL, REDIS_CLUSTER_NODES, DATABASE_URL } = server.gateway.config;
    const pastTheEnd = (REDIS_URL ?? REDIS_CLUSTER_NODES) !== undefined && DATABASE_URL === undefined ? 'EVENTS_EXPIRED' : 'BAD_USER_INPUT';
    for (const [afterSeq, code] of [
      [lastSeq + 1, pastTheEnd],
      [-1, 'BAD_USER_INPUT'],
    ] as const) {
      const subscription = subscribe(server, token, sent.conversationId, afterSeq);
      await subscription.recorder.untilEnded();
      await subscription.close();
      expect(subscription.recorder.errors?.[0]?.extensions?.['code']).toBe(code);
      expect(subscription.recorder.events).toEqual([]);
    }
  });

  it('many subscribers at once each get the same gapless stream', async () => {
    const sent = await send(server.url, token, { text: 'Hello to everyone listening' });
    const subscribers = Array.from({ length: 20 }, () => subscribe(server, token, sent.conversationId, sent.afterSeq));
    const streams = await Promise.all(subscribers.map((subscriber) => subscriber.recorder.untilTerminals(1)));
    await Promise.all(subscribers.map((subscriber) => subscriber.close()));
    for (const stream of streams) expect(seqsOf(stream)).toEqual(seqsOf(streams[0]!));
    expectRunInvariants(streams[0]!, sent);
  });
});

describe('retention', () => {
  let server: RunningServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ EVENT_RETENTION_COUNT: '5' });
    token = await tokenFor('forgetful');
  });
  afterAll(() => server.close());

  it('fails with EVENTS_EXPIRED for an afterSeq older than what is retained, and serves what is', async () => {
    const sent = await send(server.url, token, { text: 'Hello' });
    expect(await awaitRunEnd(server.url, token, sent.runId)).toBe('COMPLETED');
    const gql = userClient(server.url, token);
    const { lastSeq } = (await gql(`{ conversation(id: "${sent.conversationId}") { lastSeq } }`)).data.conversation;
    expect(lastSeq).toBeGreaterThan(5);

    const expired = subscribe(server, token, sent.conversationId, 0);
    await expired.recorder.untilEnded();
    await expired.close();
    expect(expired.recorder.errors?.[0]?.extensions?.['code']).toBe('EVENTS_EXPIRED');

    const query = await gql(`{ conversation(id: "${sent.conversationId}") { events(afterSeq: 0) { seq } } }`);
    expect(query.errors?.[0]?.extensions?.['code']).toBe('EVENTS_EXPIRED');

    const retained = await gql(`{ conversation(id: "${sent.conversationId}") { events(afterSeq: ${lastSeq - 5}) { seq } } }`);
    expect(retained.data.conversation.events.map((event: { seq: number }) => event.seq)).toEqual([1, 2, 3, 4, 5].map((offset) => lastSeq - 5 + offset));
    const tail = subscribe(server, token, sent.conversationId, lastSeq - 2);
    const events = await tail.recorder.until((received) => received.length === 2, 'the two retained events');
    await tail.close();
    expect(seqsOf(events)).toEqual([lastSeq - 1, lastSeq]);
    expect(isTerminal(events.at(-1)!)).toBe(true);
  });
});
