/**
 * GraphiQL as a developer meets it after `npm start`: served by the gateway itself (no CDN),
 * signed in with a dev token, and running a subscription over WebSocket to the end of a run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { RunningServer } from '../../src/server.ts';
import { GRAPHIQL_USER } from '../../src/transport/graphql/yoga.ts';
import { send } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';
import { launchChromium } from './browser.ts';

describe('GraphiQL', () => {
  let browser: Browser;
  let devServer: RunningServer;
  let securedServer: RunningServer;
  beforeAll(async () => {
    [browser, devServer, securedServer] = await Promise.all([launchChromium(), startTestServer({}, { withoutSecret: true }), startTestServer()]);
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([devServer?.close(), securedServer?.close()]);
  });

  it('opens signed in with a dev token and follows a run over WebSocket', async () => {
    const { token } = (await (await fetch(`${devServer.url}/auth/dev-token`, { method: 'POST', body: JSON.stringify({ userId: GRAPHIQL_USER }) })).json()) as {
      token: string;
    };
    const sent = await send(devServer.url, token, { text: 'Hello' });
    const query = `subscription { agentEvents(conversationId: "${sent.conversationId}", afterSeq: 0) { __typename seq } }`;

    const page = await browser.newPage();
    const sockets: string[] = [];
    const received: string[] = [];
    page.on('websocket', (socket) => {
      sockets.push(socket.url());
      socket.on('framereceived', ({ payload }) => {
        const message = JSON.parse(String(payload)) as { type: string; payload?: { data?: { agentEvents?: { __typename: string } } } };
        if (message.type === 'next') received.push(message.payload?.data?.agentEvents?.__typename ?? 'error');
      });
    });
    const elsewhere: string[] = [];
    page.on('request', (request) => {
      // Anything fetched from elsewhere (a CDN) would fail offline; blob: URLs are GraphiQL's own workers.
      if (/^https?:/.test(request.url()) && !request.url().startsWith(devServer.url)) elsewhere.push(request.url());
    });
    await page.goto(`${devServer.url}/graphql?query=${encodeURIComponent(query)}`);
    await page.getByRole('button', { name: /^Execute query/ }).click({ timeout: 60_000 });
    // GraphiQL shows the latest event of a subscription; the socket shows all of them.
    await page.getByText('AgentCompleted').first().waitFor();
    expect(received.slice(0, 2)).toEqual(['MessageCreated', 'AgentStarted']);
    expect(received.at(-1)).toBe('AgentCompleted');
    expect(received).not.toContain('error');
    expect(sockets).toEqual([`${devServer.url.replace('http', 'ws')}/graphql`]);
    expect(elsewhere).toEqual([]);
    await page.close();
  });

  it('with a configured secret, subscribes over SSE so that the pasted Authorization header applies', async () => {
    const response = await fetch(`${securedServer.url}/graphql`, { headers: { accept: 'text/html' } });
    const html = await response.text();
    // Booleans: a failing toContain would print GraphiQL's whole inlined bundle.
    expect(html.includes('"subscriptionsProtocol":"SSE"')).toBe(true);
    expect(html.includes('"connectionParams":')).toBe(false);
    expect(html.includes('Bearer <jwt>')).toBe(true);
  });
});
