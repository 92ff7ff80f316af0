/**
 * Apollo Client (v4) against a real gateway, set up as README.md and examples/client show: HTTP for
 * queries and mutations, GraphQLWsLink (graphql-ws) for subscriptions, and the typed documents
 * generated from schema.graphql (web/src/operations.ts).
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { AgentEvents, ConversationHistory, SendMessage } from '../../web/src/operations.ts';
import { tokenFor } from '../support/clients.ts';
import { startTestServer } from '../support/server.ts';
import { SALES_CSV, expectWholeInsightsRun, isTerminal, type AgentEvent } from './whole-run.ts';

// ---- the set-up of examples/client/src/client.ts, shown in README.md ("Apollo Client, a typed client in Node") ----
/** Queries and mutations over HTTP, subscriptions over graphql-ws, both with the bearer token. */
export function createApolloClient({ gatewayUrl, token }: { gatewayUrl: string; token: string }) {
  const httpLink = new HttpLink({ uri: `${gatewayUrl}/graphql`, headers: { authorization: `Bearer ${token}` } });
  const wsLink = new GraphQLWsLink(
    createClient({
      url: `${gatewayUrl.replace(/^http/, 'ws')}/graphql`,
      connectionParams: { authorization: `Bearer ${token}` },
      webSocketImpl: WebSocket, // Node only: browsers have WebSocket built in
    }),
  );
  return new ApolloClient({
    link: ApolloLink.split(({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION, wsLink, httpLink),
    cache: new InMemoryCache(),
  });
}
// ----

describe('Apollo Client with GraphQLWsLink', () => {
  let server: RunningServer;
  let client: ApolloClient;

  beforeAll(async () => {
    server = await startTestServer();
    client = createApolloClient({ gatewayUrl: server.url, token: await tokenFor('apollo-user') });
  });
  afterAll(async () => {
    client?.stop();
    await server?.close();
  });

  it('sends a message and receives its whole run through a subscription, typed', async () => {
    const { data } = await client.mutate({
      mutation: SendMessage,
      variables: {
        input: {
          text: 'What trends are in this data?',
          surface: 'INSIGHTS',
          context: { files: [{ name: 'sales.csv', content: SALES_CSV }] },
        },
      },
    });
    const sent = data!.sendAgentMessage;
    expectTypeOf(sent.afterSeq).toEqualTypeOf<number>();
    expectTypeOf(sent.run.status).toEqualTypeOf<'QUEUED' | 'RUNNING' | 'WAITING' | 'COMPLETED' | 'FAILED' | 'CANCELLED'>();
    expect(sent.run.agentId).toBe('liaison.insights');

    const events: AgentEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      const subscription = client
        .subscribe({
          query: AgentEvents,
          variables: { conversationId: sent.conversation.id, afterSeq: sent.afterSeq },
          // Events are a stream to render, not entities to cache.
          fetchPolicy: 'no-cache',
        })
        .subscribe({
          next: ({ data: result, error }) => {
            if (error) return reject(error);
            const event = result?.agentEvents;
            if (!event) return;
            if (event.__typename === 'AgentToken') expectTypeOf(event.delta).toEqualTypeOf<string>();
            if (event.__typename === 'ToolCompleted')
              expectTypeOf(event.toolError).toEqualTypeOf<{ code: string; message: string; retryable: boolean } | null>();
            events.push(event);
            if (isTerminal(event)) {
              subscription.unsubscribe();
              resolve();
            }
          },
          error: reject,
        });
    });
    expectWholeInsightsRun(events, { id: sent.run.id, afterSeq: sent.afterSeq });

    const history = await client.query({ query: ConversationHistory, variables: { id: sent.conversation.id, last: 10 } });
    const messages = history.data?.conversation?.messages ?? [];
    expectTypeOf(messages[0]!.role).toEqualTypeOf<'USER' | 'AGENT'>();
    expect(messages.map((message) => [message.role, message.agentId])).toEqual([
      ['USER', null],
      ['AGENT', 'liaison.insights'],
    ]);
    const completed = events.at(-1);
    expect(completed?.__typename === 'AgentCompleted' && completed.message.text).toBe(messages[1]?.text);
  });
});
