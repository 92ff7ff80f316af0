/**
 * The page's GraphQL client: urql for queries and mutations over HTTP, and graphql-ws for
 * subscriptions on the same `/graphql` endpoint. The WebSocket is opened at once and kept open
 * (reconnecting with backoff whenever it drops), so the page can show its state.
 */
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting';

export interface GatewayClient {
  urql: Client;
  ws: WsClient;
  dispose(): void;
}

export interface GatewayClientOptions {
  /** The GraphQL endpoint over HTTP, such as http://localhost:4000/graphql. */
  url: string;
  tokens: TokenSource;
  onConnectionState(state: ConnectionState): void;
}

export interface TokenSource {
  /** The token to send now. */
  current(): string;
  /** Gets a new token: called before reconnecting after the server refused (4403) the last one. */
  renew(): Promise<string>;
}

export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  const { tokens } = options;
  let forbidden = false;
  let everConnected = false;
  const ws = createWsClient({
    url: options.url.replace(/^http/, 'ws'),
    connectionParams: async () => {
      const token = forbidden ? await tokens.renew() : tokens.current();
      forbidden = false;
      return { authorization: `Bearer ${token}` };
    },
    lazy: false,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    // Quick first retries (a blip), then backing off to at most about 8 seconds.
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** retries, 8000) + Math.random() * 250)),
    keepAlive: 15_000,
    on: {
      connecting: () => options.onConnectionState(everConnected ? 'reconnecting' : 'connecting'),
      connected: () => {
        everConnected = true;
        options.onConnectionState('connected');
      },
      closed: (event) => {
        // 4403: the token was refused or has expired; the next attempt renews it first.
        if ((event as { code?: number } | undefined)?.code === 4403) forbidden = true;
        options.onConnectionState(everConnected ? 'reconnecting' : 'connecting');
      },
    },
  });
  const urql = new Client({
    url: options.url,
    // Queries are cheap and the server is the source of truth: always ask it.
    requestPolicy: 'network-only',
    fetchOptions: () => ({ headers: { authorization: `Bearer ${tokens.current()}` } }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return {
    urql,
    ws,
    dispose: () => void ws.dispose(),
  };
}
