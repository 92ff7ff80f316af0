/**
 * The graphql-transport-ws protocol as our WebSocket server speaks it (transport/graphql/graphql-ws-server.ts),
 * frame by frame with a bare `ws` socket, and through the real graphql-ws client: the close codes of
 * its rules, ping/pong, completion from either side, errors for one operation only, and subscriptions
 * pushed to several subscribers of one socket with each frame carrying its own id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { RunningServer } from '../../src/server.ts';
import { EVENTS, tokenFor, wsClient, type AgentEvent } from '../support/clients.ts';
import { RawGraphQLSocket } from '../support/raw-ws.ts';
import { awaitRunEnd, send } from '../support/runs.ts';
import { awaitActiveSubscriptions, startTestServer } from '../support/server.ts';

const SEQS = /* GraphQL */ `
  subscription Seqs($conversationId: ID!, $afterSeq: Int, $runId: ID) {
    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq, runId: $runId) {
      __typename
      seq
      runId
    }
  }
`;

type Frame = { id?: string; type: string; payload?: any };
const isFrame = (type: string, id?: string) => (message: unknown) => (message as Frame).type === type && (id === undefined || (message as Frame).id === id);

describe('the graphql-transport-ws protocol', () => {
  let server: RunningServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ AGENT_STEP_DELAY_MS: '1' });
    token = await tokenFor('protocol');
  });
  afterAll(() => server.close());

  async function rawSocket(): Promise<RawGraphQLSocket> {
    const raw = new RawGraphQLSocket(server.url);
    await raw.init(token);
    return raw;
  }

  it('closes a second connection_init with 4429', async () => {
    const raw = await rawSocket();
    raw.sendJson({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
    expect(await raw.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
  });

  it('closes a subscribe before connection_ack with 4401', async () => {
    const raw = new RawGraphQLSocket(server.url);
    await raw.opened();
    raw.sendJson({ id: '1', type: 'subscribe', payload: { query: '{ viewer { id } }' } });
    expect(await raw.closed).toEqual({ code: 4401, reason: 'Unauthorized' });
  });

  it('closes a subscribe whose id is still open with 4409', async () => {
    const { conversationId } = await send(server.url, token, { text: 'hello' });
    const raw = await rawSocket();
    const subscribe = { id: 'twice', type: 'subscribe', payload: { query: SEQS, variables: { conversationId } } };
    raw.sendJson(subscribe);
    raw.sendJson(subscribe);
    expect(await raw.closed).toEqual({ code: 4409, reason: 'Subscriber for twice already exists' });
  });

  it.each([
    ['an unknown type', { type: 'subscribed' }],
    ['a subscribe without an id', { type: 'subscribe', payload: { query: '{ viewer { id } }' } }],
    ['a subscribe without a query', { id: '1', type: 'subscribe', payload: {} }],
    ['a complete without an id', { type: 'complete' }],
  ])('closes a socket that sends %s with 4400', async (_label, message) => {
    const raw = await rawSocket();
    raw.sendJson(message);
    expect(await raw.closed).toEqual({ code: 4400, reason: 'Invalid message received' });
  });

  it('closes a socket not speaking graphql-transport-ws with 4406', async () => {
    const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/graphql`);
    const code = await new Promise<number>((resolve) => socket.once('close', resolve));
    expect(code).toBe(4406);
  });

  it('answers a ping with a pong carrying its payload, or none', async () => {
    const raw = await rawSocket();
    raw.sendJson({ type: 'ping', payload: { at: 7 } });
    expect(await raw.nextMessage(isFrame('pong'))).toEqual({ type: 'pong', payload: { at: 7 } });
    raw.sendJson({ type: 'ping' });
    expect(await raw.nextMessage(isFrame('pong'))).toEqual({ type: 'pong' });
    raw.close();
  });

  it('answers a query with next then complete, and its errors to that operation only', async () => {
    const { conversationId } = await send(server.url, token, { text: 'hello' });
    const raw = await rawSocket();
    raw.sendJson({ id: 'live', type: 'subscribe', payload: { query: SEQS, variables: { conversationId, afterSeq: 0 } } });
    expect((await raw.nextMessage(isFrame('next', 'live'))).payload.data.agentEvents.seq).toBe(1);
    raw.sendJson({ id: 'bad', type: 'subscribe', payload: { query: '{ nothing }' } });
    const error = await raw.nextMessage<Frame>(isFrame('error', 'bad'));
    expect(error.payload[0].message).toContain('nothing');
    raw.sendJson({ id: 'query', type: 'subscribe', payload: { query: '{ viewer { id } }' } });
    expect(await raw.nextMessage(isFrame('next', 'query'))).toEqual({ id: 'query', type: 'next', payload: { data: { viewer: { id: 'protocol' } } } });
    expect(await raw.nextMessage(isFrame('complete', 'query'))).toEqual({ id: 'query', type: 'complete' });
    // The subscription went on: the conversation's next run reaches it.
    await send(server.url, token, { text: 'again', conversationId });
    const nextRun = await raw.nextMessage<Frame>(
      (message) => isFrame('next', 'live')(message) && (message as Frame).payload.data.agentEvents.__typename === 'MessageCreated',
    );
    expect(nextRun.payload.data.agentEvents.seq).toBeGreaterThan(1);
    raw.close();
  });

  it('completes a one-run subscription from the server after its terminal event', async () => {
    const sent = await send(server.url, token, { text: 'hello' });
    const raw = await rawSocket();
    raw.sendJson({
      id: 'run',
      type: 'subscribe',
      payload: { query: SEQS, variables: { conversationId: sent.conversationId, afterSeq: sent.afterSeq, runId: sent.runId } },
    });
    expect(await raw.nextMessage(isFrame('complete', 'run'))).toEqual({ id: 'run', type: 'complete' });
    raw.close();
  });

  it('stops a subscription the client completes, and nothing more is sent for it', async () => {
    const { conversationId } = await send(server.url, token, { text: 'hello' });
    const raw = await rawSocket();
    await awaitActiveSubscriptions(server, 0);
    raw.sendJson({ id: 'a', type: 'subscribe', payload: { query: SEQS, variables: { conversationId, afterSeq: 0 } } });
    raw.sendJson({ id: 'b', type: 'subscribe', payload: { query: SEQS, variables: { conversationId, afterSeq: 0 } } });
    await raw.nextMessage(isFrame('next', 'a'));
    await raw.nextMessage(isFrame('next', 'b'));
    await awaitActiveSubscriptions(server, 2);
    raw.sendJson({ id: 'a', type: 'complete' });
    await awaitActiveSubscriptions(server, 1);
    const sent = await send(server.url, token, { text: 'again', conversationId });
    // b sees the whole new run; by then anything for a would have been sent before it.
    await raw.nextMessage(
      (message) => isFrame('next', 'b')(message) && ['AgentCompleted', 'AgentFailed'].includes((message as Frame).payload.data.agentEvents.__typename),
    );
    const late = raw
      .nextMessage<Frame>((message) => isFrame('next', 'a')(message) && (message as Frame).payload.data.agentEvents.runId === sent.runId)
      .catch(() => null);
    raw.close();
    expect(await late).toBeNull();
  });

  it('gives each subscription of one socket its own frames, the same payload under each id', async () => {
    const { conversationId, afterSeq } = await send(server.url, token, { text: 'hello' });
    const frames: string[] = [];
    const raw = await rawSocket();
    raw.socket.on('message', (data) => frames.push(String(data)));
    for (const id of ['x', 'y']) raw.sendJson({ id, type: 'subscribe', payload: { query: SEQS, variables: { conversationId, afterSeq } } });
    const terminal = (id: string) => (message: unknown) =>
      isFrame('next', id)(message) && ['AgentCompleted', 'AgentFailed'].includes((message as Frame).payload.data.agentEvents.__typename);
    await raw.nextMessage(terminal('x'));
    await raw.nextMessage(terminal('y'));
    raw.close();
    const payloads = (id: string) =>
      frames.filter((frame) => frame.startsWith(`{"id":"${id}","type":"next","payload":`)).map((frame) => frame.slice(frame.indexOf('"payload":')));
    expect(payloads('x').length).toBeGreaterThan(2);
    expect(payloads('y')).toEqual(payloads('x'));
  });

  it('writes the frames one socket gets in one tick, a replayed run, in one write', async () => {
    const sent = await send(server.url, token, { text: 'hello' });
    await awaitRunEnd(server.url, token, sent.runId);
    // Writes counted where they leave the process: the server's end of the TCP connection.
    let writes = 0;
    server.httpServer.once('upgrade', (_request, socket: Socket) => {
      const { _write: write, _writev: writev } = socket as Socket & { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
      Object.assign(socket, {
        _write: (...args: unknown[]) => ((writes += 1), write.apply(socket, args)),
        _writev: (...args: unknown[]) => ((writes += 1), writev.apply(socket, args)),
      });
    });
    const raw = await rawSocket();
    const frames: Frame[] = [];
    raw.socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame));
    const before = writes;
    raw.sendJson({ id: 'replay', type: 'subscribe', payload: { query: SEQS, variables: { conversationId: sent.conversationId, afterSeq: 0 } } });
    await raw.nextMessage(
      (message) => isFrame('next', 'replay')(message) && ['AgentCompleted', 'AgentFailed'].includes((message as Frame).payload.data.agentEvents.__typename),
    );
    raw.close();
    const nexts = frames.filter((frame) => frame.type === 'next').length;
    expect(nexts).toBeGreaterThan(5);
    // One write per tick: the run has ended and its events are all in the log, so the replay is
    // one read of the log and one write. Unbatched, it would be one write per frame.
    expect(writes - before).toBe(1);
  });

  it('serves the real graphql-ws client: a subscription it completes leaves nothing open', async () => {
    const { conversationId, afterSeq } = await send(server.url, token, { text: 'hello' });
    const client = wsClient(server.url, token);
    const events: AgentEvent[] = [];
    await awaitActiveSubscriptions(server, 0);
    await new Promise<void>((resolve, reject) => {
      const stop = client.subscribe<{ agentEvents: AgentEvent }>(
        { query: EVENTS, variables: { conversationId, afterSeq } },
        {
          next: ({ data }) => {
            events.push(data!.agentEvents);
            if (events.length === 2) {
              stop();
              resolve();
            }
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    await awaitActiveSubscriptions(server, 0);
    expect(events.slice(0, 2).map((event) => event.seq)).toEqual([afterSeq + 1, afterSeq + 2]);
    await client.dispose();
  });
});
