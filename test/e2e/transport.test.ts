/**
 * The Transport section: one port for GraphQL over HTTP, WebSocket and SSE, GraphiQL, health,
 * readiness and Prometheus metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EVENTS, EventRecorder, SEND, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { awaitRunEnd } from '../support/runs.ts';
import { subscribeSse } from '../support/sse.ts';
import { startTestServer } from '../support/server.ts';

/** Sums every sample of a metric (all label sets) in Prometheus text format. */
function sample(text: string, name: string): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && match[1] === name) {
      found = true;
      total += Number(match[3]);
    }
  }
  if (!found) throw new Error(`no sample of ${name}`);
  return total;
}

async function scrape(baseUrl: string) {
  const response = await fetch(`${baseUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return response.text();
}

/** Checks a whole run as delivered: MessageCreated, AgentStarted, …, AgentCompleted, gapless, tokens = reply. */
function expectWholeRun(events: AgentEvent[], runId: string, afterSeq: number) {
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => afterSeq + 1 + index));
  expect(events.every((event) => event.runId === runId)).toBe(true);
  expect(events[0]?.__typename).toBe('MessageCreated');
  expect(events[1]?.__typename).toBe('AgentStarted');
  expect(events.filter(isTerminal)).toHaveLength(1);
  const last = events.at(-1)!;
  expect(last.__typename).toBe('AgentCompleted');
  const tokens = events
    .filter((event) => event.__typename === 'AgentToken')
    .map((event) => event['delta'])
    .join('');
  expect(tokens).toBe(last['message'].text);
  expect(tokens.length).toBeGreaterThan(0);
}

describe('transport', () => {
  let server: RunningServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await tokenFor('transport-user');
  });
  afterAll(() => server.close());

  it('answers /healthz and /readyz with 200', async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('serves Prometheus metrics whose counts grow with a run', async () => {
    const names = [
      'agent_gateway_open_connections',
      'agent_gateway_active_subscriptions',
      'agent_gateway_runs_total',
      'agent_gateway_events_appended_total',
      'agent_gateway_events_delivered_total',
      'agent_gateway_event_delivery_latency_seconds',
    ];
    const before = await scrape(server.url);
    for (const name of names) expect(before).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
    expect(before).toMatch(/^# HELP agent_gateway_runs_total /m);
    const counters = (text: string) => ({
      runs: sample(text, 'agent_gateway_runs_total'),
      appended: sample(text, 'agent_gateway_events_appended_total'),
      delivered: sample(text, 'agent_gateway_events_delivered_total'),
      latencyCount: sample(text, 'agent_gateway_event_delivery_latency_seconds_count'),
    });
    const start = /^agent_gateway_runs_total/m.test(before) ? counters(before) : { runs: 0, appended: 0, delivered: 0, latencyCount: 0 };

    const sent = await userClient(server.url, token)(SEND, { input: { text: 'Hello there' } });
    expect(sent.errors).toBeUndefined();
    const { conversation, afterSeq, run } = sent.data.sendAgentMessage;
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: conversation.id, afterSeq });
    const events = await recorder.untilTerminals(1);
    expectWholeRun(events, run.id, afterSeq);

    const during = await scrape(server.url);
    expect(sample(during, 'agent_gateway_open_connections')).toBeGreaterThanOrEqual(1);
    expect(sample(during, 'agent_gateway_active_subscriptions')).toBeGreaterThanOrEqual(1);
    const after = counters(during);
    // QUEUED, RUNNING and COMPLETED at least.
    expect(after.runs - start.runs).toBeGreaterThanOrEqual(3);
    // Every event of the run but the user's message is appended by the run itself.
    expect(after.appended - start.appended).toBeGreaterThanOrEqual(events.length - 1);
    expect(after.delivered - start.delivered).toBeGreaterThanOrEqual(events.length);
    expect(after.latencyCount - start.latencyCount).toBeGreaterThanOrEqual(events.length);
    expect(during).toMatch(/^agent_gateway_runs_total\{status="COMPLETED"\} [1-9]/m);
    expect(during).toMatch(/^agent_gateway_event_delivery_latency_seconds_bucket\{le="\+Inf"\} [1-9]/m);
    recorder.stop();
    await client.dispose();
  });

  it('counts the MessageCreated event of a send in agent_gateway_events_appended_total', async () => {
    const before = await scrape(server.url);
    const count = (text: string) => Number(/^agent_gateway_events_appended_total\{type="MessageCreated"\} (\S+)$/m.exec(text)?.[1] ?? 0);
    const sent = await userClient(server.url, token)(SEND, { input: { text: 'Count me' } });
    expect(sent.errors).toBeUndefined();
    const { conversation, afterSeq } = sent.data.sendAgentMessage;
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: conversation.id, afterSeq });
    const events = await recorder.untilTerminals(1);
    recorder.stop();
    await client.dispose();
    const after = await scrape(server.url);
    expect(events[0]?.__typename).toBe('MessageCreated');
    expect(count(after) - count(before)).toBe(1);
    // Every appended event is counted, by type.
    const appended = sample(after, 'agent_gateway_events_appended_total') - sample(before, 'agent_gateway_events_appended_total');
    expect(appended).toBe(events.length);
  });

  it('serves GraphiQL on GET /graphql to a browser', async () => {
    const response = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    // (Booleans: on failure, the assertion would otherwise print GraphiQL's whole inlined bundle.)
    expect(html.toLowerCase().includes('graphiql')).toBe(true);
    // With a configured secret its subscriptions go over SSE, which carries the pasted header
    // (test/browser/graphiql.test.ts covers WebSocket with a dev token).
    expect(html.includes('"subscriptionsProtocol":"SSE"')).toBe(true);
  });

  it('answers queries over GET and refuses mutations over GET, storing nothing', async () => {
    const get = (query: string) =>
      fetch(`${server.url}/graphql?query=${encodeURIComponent(query)}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/graphql-response+json' },
      });
    const viewer = await get('{ viewer { id } }');
    expect(viewer.status).toBe(200);
    expect(await viewer.json()).toEqual({ data: { viewer: { id: 'transport-user' } } });
    const gql = userClient(server.url, token);
    const before = await gql('{ conversations(first: 100) { id } }');
    const mutation = await get('mutation { sendAgentMessage(input: {text: "over GET", conversationId: "via-get"}) { run { id } } }');
    expect(mutation.status).toBe(405);
    expect(await gql('{ conversations(first: 100) { id } }')).toEqual(before);
    expect(await gql('{ conversation(id: "via-get") { id } }')).toEqual({ data: { conversation: null } });
  });

  it('delivers a whole run over SSE', async () => {
    const sent = await userClient(server.url, token)(SEND, { input: { text: 'What trends are in this data?' } });
    expect(sent.errors).toBeUndefined();
    const { conversation, afterSeq, run } = sent.data.sendAgentMessage;
    const subscription = await subscribeSse(server.url, token, EVENTS, { conversationId: conversation.id, afterSeq });
    expect(subscription.response.status).toBe(200);
    expect(subscription.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: AgentEvent[] = [];
    for await (const result of subscription.results) {
      expect(result.errors).toBeUndefined();
      events.push(result.data!.agentEvents);
      if (isTerminal(result.data!.agentEvents)) break;
    }
    subscription.close();
    expectWholeRun(events, run.id, afterSeq);
  });

  it('rejects an SSE subscription without a token with UNAUTHENTICATED', async () => {
    const subscription = await subscribeSse(server.url, null, EVENTS, { conversationId: 'anything', afterSeq: 0 });
    const results = [];
    for await (const result of subscription.results) results.push(result);
    subscription.close();
    expect(results[0]?.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect(results.some((result) => result.data?.agentEvents)).toBe(false);
  });

  it('runs queries and mutations over WebSocket too', async () => {
    const client = wsClient(server.url, token);
    const collect = async (query: string, variables: Record<string, unknown> = {}) => {
      const results = [];
      for await (const result of client.iterate({ query, variables })) results.push(result);
      return results;
    };
    expect(await collect('{ viewer { id tenantId } }')).toEqual([{ data: { viewer: { id: 'transport-user', tenantId: null } } }]);

    const [sent] = await collect(SEND, { input: { text: 'Hello over WebSocket', conversationId: 'over-ws' } });
    expect(sent?.errors).toBeUndefined();
    const payload = (sent!.data as any).sendAgentMessage;
    expect(payload.conversation.id).toBe('over-ws');
    expect(payload.message.text).toBe('Hello over WebSocket');

    const recorder = new EventRecorder(client, { conversationId: 'over-ws', afterSeq: payload.afterSeq });
    const events = await recorder.untilTerminals(1);
    recorder.stop();
    expectWholeRun(events, payload.run.id, payload.afterSeq);

    // The reply is stored after its AgentCompleted (see runs.test.ts, "a completed run's reply").
    await awaitRunEnd(server.url, token, payload.run.id);
    const [history] = await collect('{ conversation(id: "over-ws") { id lastSeq messages { role text } } }');
    expect(history).toEqual({
      data: {
        conversation: {
          id: 'over-ws',
          lastSeq: events.at(-1)!.seq,
          messages: [
            { role: 'USER', text: 'Hello over WebSocket' },
            { role: 'AGENT', text: events.at(-1)!['message'].text },
          ],
        },
      },
    });
    const [cancelled] = await collect('mutation { cancelAgentRun(runId: "no-such-run") { id } }');
    expect(cancelled?.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    await client.dispose();
  });

  it('answers an unknown path with 404', async () => {
    const response = await fetch(`${server.url}/definitely-not-here`, { method: 'POST' });
    expect(response.status).toBe(404);
  });
});
