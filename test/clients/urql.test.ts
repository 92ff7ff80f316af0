/**
 * urql against a real gateway, set up as README.md shows: fetchExchange for
 * queries and mutations, subscriptionExchange over graphql-ws for subscriptions, and the typed
 * documents generated from schema.graphql (web/src/operations.ts).
 */
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWSClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { AgentEvents, CancelRun, ConversationHistory, SendMessage } from '../../web/src/operations.ts';
import { tokenFor } from '../support/clients.ts';
import { startTestServer } from '../support/server.ts';
import { SALES_CSV, expectWholeInsightsRun, isTerminal, type AgentEvent } from './whole-run.ts';

// ---- the set-up shown in README.md ("urql") ----
function createUrqlClient({ httpUrl, wsUrl, token }: { httpUrl: string; wsUrl: string; token: string }) {
  const wsClient = createWSClient({
    url: wsUrl,
    connectionParams: { authorization: `Bearer ${token}` },
    webSocketImpl: WebSocket, // Node only: browsers have WebSocket built in
  });
  const client = new Client({
    url: httpUrl,
    fetchOptions: { headers: { authorization: `Bearer ${token}` } },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = wsClient.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return { client, wsClient };
}
// ----

/** Follows a conversation until `done` says so; resolves with every event received. */
function follow(client: Client, variables: { conversationId: string; afterSeq: number }, done: (event: AgentEvent) => boolean) {
  return new Promise<AgentEvent[]>((resolve, reject) => {
    const events: AgentEvent[] = [];
    const { unsubscribe } = client.subscription(AgentEvents, variables).subscribe((result) => {
      if (result.error) return reject(result.error);
      const event = result.data?.agentEvents;
      if (!event) return;
      events.push(event);
      if (done(event)) {
        queueMicrotask(unsubscribe);
        resolve(events);
      }
    });
  });
}

describe('urql with subscriptionExchange over graphql-ws', () => {
  let server: RunningServer;
  let urql: ReturnType<typeof createUrqlClient>;

  beforeAll(async () => {
    server = await startTestServer();
    urql = createUrqlClient({
      httpUrl: `${server.url}/graphql`,
      wsUrl: `${server.url.replace(/^http/, 'ws')}/graphql`,
      token: await tokenFor('urql-user'),
    });
  });
  afterAll(async () => {
    await urql?.wsClient.dispose();
    await server?.close();
  });

  it('sends a message and receives its whole run through a subscription, typed', async () => {
    const { client } = urql;
    const sent = await client
      .mutation(SendMessage, {
        input: {
          text: 'What trends are in this data?',
          surface: 'INSIGHTS',
          context: { files: [{ name: 'sales.csv', content: SALES_CSV }] },
        },
      })
      .toPromise();
    expect(sent.error).toBeUndefined();
    const payload = sent.data!.sendAgentMessage;
    expectTypeOf(payload.afterSeq).toEqualTypeOf<number>();
    expectTypeOf(payload.conversation.title).toEqualTypeOf<string | null>();
    expect(payload.run.agentId).toBe('liaison.insights');

    const events = await follow(client, { conversationId: payload.conversation.id, afterSeq: payload.afterSeq }, isTerminal);
    for (const event of events) {
      if (event.__typename === 'AgentArtifact') expectTypeOf(event.data).toEqualTypeOf<unknown>();
      if (event.__typename === 'AgentFailed') expectTypeOf(event.error.code).toEqualTypeOf<string>();
    }
    expectWholeInsightsRun(events, { id: payload.run.id, afterSeq: payload.afterSeq });

    const history = await client.query(ConversationHistory, { id: payload.conversation.id, last: 10 }).toPromise();
    const conversation = history.data?.conversation;
    expect(conversation?.messages.map((message) => message.role)).toEqual(['USER', 'AGENT']);
    expect(conversation?.lastSeq).toBe(events.at(-1)?.seq);
    expect(conversation?.activeRun).toBeNull();
  });

  it('stops a run with cancelAgentRun, which ends it with AgentCancelled', async () => {
    // A run that only moves on when asked: the guide waits ten minutes between steps here.
    const slow = await startTestServer({ AGENT_STEP_DELAY_MS: '600000' });
    const slowUrql = createUrqlClient({
      httpUrl: `${slow.url}/graphql`,
      wsUrl: `${slow.url.replace(/^http/, 'ws')}/graphql`,
      token: await tokenFor('urql-user'),
    });
    try {
      const sent = await slowUrql.client.mutation(SendMessage, { input: { text: 'Hello!' } }).toPromise();
      const payload = sent.data!.sendAgentMessage;
      const variables = { conversationId: payload.conversation.id, afterSeq: payload.afterSeq };
      await follow(slowUrql.client, variables, (event) => event.__typename === 'AgentThinking');
      const following = follow(slowUrql.client, variables, isTerminal);
      const cancelled = await slowUrql.client.mutation(CancelRun, { runId: payload.run.id }).toPromise();
      expect(cancelled.data?.cancelAgentRun).toMatchObject({ id: payload.run.id, status: 'CANCELLED' });
      const events = await following;
      expect(events.at(-1)).toMatchObject({ __typename: 'AgentCancelled', runId: payload.run.id, agentId: 'guide' });
      expect(events.some((event) => event.__typename === 'AgentToken')).toBe(false);
    } finally {
      await slowUrql.wsClient.dispose();
      await slow.close();
    }
  });
});
