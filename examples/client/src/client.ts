import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

/** A development token: gateways without AUTH_JWT_SECRET (outside production) hand them out. */
export async function devToken(gatewayUrl: string, userId: string): Promise<string> {
  const response = await fetch(`${gatewayUrl}/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  if (!response.ok) throw new Error(`POST /auth/dev-token answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

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
