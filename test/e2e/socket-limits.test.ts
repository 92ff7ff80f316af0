/**
 * Bounds per socket and per user: each refusal hits only what is over its limit (one subscribe,
 * one new socket, one flooding socket), with the contract's code or a documented close code,
 * is logged once, and leaves everyone else, the same user's other sockets included, served.
 * The older sockets (/api/ws/agent, /api/runtime/agent) are bounded by the same limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EVENTS, SEND, tokenFor, userClient } from '../support/clients.ts';
import { capturingLogger } from '../support/logs.ts';
import { RawGraphQLSocket, RawJsonSocket } from '../support/raw-ws.ts';
import { startTestServer } from '../support/server.ts';

const isCompleted = (id: string) => (message: any) => message.id === id && message.payload?.data?.agentEvents?.__typename === 'AgentCompleted';

describe('limits per socket and per user', () => {
  const { logger, lines } = capturingLogger();
  let server: RunningServer;
  const logged = (text: string) => lines.filter((line) => String(line['msg']).includes(text)).length;

  /** Resolves once the server counts `count` open sockets (each check yields to I/O first). */
  async function untilOpenSockets(count: number) {
    for (;;) {
      const { values } = await server.gateway.metrics.openConnections.get();
      if ((values[0]?.value ?? 0) === count) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  beforeAll(async () => {
    server = await startTestServer(
      {
        WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '2',
        WS_MAX_SOCKETS_PER_USER: '2',
        WS_MAX_MESSAGES_PER_SECOND: '20',
        WS_CONNECTION_INIT_TIMEOUT_MS: '300',
      },
      { logger },
    );
  });
  afterAll(() => server.close());

  it('refuses a subscribe over the socket limit with an error for it alone; the other subscriptions go on', async () => {
    const token = await tokenFor('subscriber');
    const gql = userClient(server.url, token);
    const sent = (await gql(SEND, { input: { text: 'Hello' } })).data.sendAgentMessage;
    const variables = { conversationId: sent.conversation.id, afterSeq: sent.afterSeq };
    const raw = new RawGraphQLSocket(server.url);
    await raw.init(token);
    for (const id of ['a', 'b', 'c', 'd']) raw.sendJson({ id, type: 'subscribe', payload: { query: EVENTS, variables } });
    for (const id of ['c', 'd']) {
      const refused = await raw.nextMessage((message: any) => message.id === id);
      expect(refused).toMatchObject({
        type: 'error',
        payload: [{ extensions: { code: 'BAD_USER_INPUT', limit: 'WS_MAX_SUBSCRIPTIONS_PER_SOCKET' } }],
      });
    }
    await Promise.all(['a', 'b'].map((id) => raw.nextMessage(isCompleted(id))));
    expect(logged("over a WebSocket's limit")).toBe(1);

    // Completing one makes room for another, and the survivor still streams.
    raw.sendJson({ id: 'a', type: 'complete' });
    raw.sendJson({ id: 'e', type: 'subscribe', payload: { query: EVENTS, variables } });
    await raw.nextMessage(isCompleted('e'));
    await gql(SEND, { input: { text: 'Again', conversationId: sent.conversation.id } });
    await Promise.all(['b', 'e'].map((id) => raw.nextMessage(isCompleted(id))));
    raw.close();
    await raw.closed;
  });

  it("closes a user's socket beyond their limit with 4429; their open sockets and other users go on", async () => {
    const token = await tokenFor('many-tabs');
    const open = [new RawGraphQLSocket(server.url), new RawGraphQLSocket(server.url)];
    await Promise.all(open.map((socket) => socket.init(token)));
    const third = new RawGraphQLSocket(server.url);
    await third.opened();
    third.sendJson({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    expect(await third.closed).toMatchObject({ code: 4429 });
    expect(logged("over its user's limit")).toBe(1);

    const other = new RawGraphQLSocket(server.url);
    await other.init(await tokenFor('someone-else'));
    for (const socket of [...open, other]) {
      socket.sendJson({ id: 'v', type: 'subscribe', payload: { query: '{ viewer { id } }' } });
      expect(await socket.nextMessage((message: any) => message.id === 'v')).toMatchObject({ type: 'next' });
    }
    // A closed socket frees its place.
    open[0]!.close();
    await open[0]!.closed;
    await untilOpenSockets(2);
    const replacement = new RawGraphQLSocket(server.url);
    await replacement.init(token);
    for (const socket of [open[1]!, other, replacement]) socket.close();
    await Promise.all([open[1]!.closed, other.closed, replacement.closed]);
  });

  it('closes a socket that does not send connection_init in time with 4408', async () => {
    const silent = new RawGraphQLSocket(server.url);
    await silent.opened();
    expect((await silent.closed).code).toBe(4408);
  });

  it("closes a socket sending faster than its limit with 4429, logged once; the same user's other socket goes on", async () => {
    const token = await tokenFor('flooder');
    const calm = new RawGraphQLSocket(server.url);
    await calm.init(token);
    const flooding = new RawGraphQLSocket(server.url);
    await flooding.init(token);
    for (let index = 0; index < 200; index += 1) flooding.sendJson({ type: 'ping' });
    expect(await flooding.closed).toMatchObject({ code: 4429 });
    expect(logged('closing a WebSocket for what it sent')).toBe(1);
    calm.sendJson({ type: 'ping' });
    expect(await calm.nextMessage((message: any) => message.type === 'pong')).toEqual({ type: 'pong' });
    calm.close();
    await calm.closed;
  });

  it("counts a user's older sockets with their GraphQL ones, and closes a flooding one with 4429", async () => {
    const token = await tokenFor('older-tabs');
    const graphql = new RawGraphQLSocket(server.url);
    await graphql.init(token);
    const older = new RawJsonSocket(server.url, `/api/ws/agent?session_token=${token}`);
    await older.opened();
    const third = new RawJsonSocket(server.url, `/api/runtime/agent?session_token=${token}`);
    expect(await third.closed).toMatchObject({ code: 4429 });

    for (let index = 0; index < 200; index += 1) older.sendJson({ type: 'ping' });
    expect(await older.closed).toMatchObject({ code: 4429 });
    graphql.sendJson({ type: 'ping' });
    expect(await graphql.nextMessage((message: any) => message.type === 'pong')).toEqual({ type: 'pong' });
    graphql.close();
    await graphql.closed;
  });
});
