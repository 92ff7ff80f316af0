/**
 * A client that stops reading is closed with 1013 once its unsent data passes
 * WS_MAX_BUFFERED_BYTES, whatever its number of subscriptions: once, and with its subscriptions
 * ended at once, while the others on the conversation go on. The older sockets (seed-sockets.ts)
 * are bounded the same way, and resume with after_seq.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EVENTS, EventRecorder, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { metricValue } from '../support/metrics.ts';
import { RawGraphQLSocket, RawJsonSocket } from '../support/raw-ws.ts';
import { send, type SentRun } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

/** Big enough that a few events fill the kernel's socket buffers, past which data waits in ours. */
const BIG_TEXT = 'x'.repeat(1_000_000);

describe('slow consumers', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({
      WS_MAX_BUFFERED_BYTES: '65536',
      MAX_TEXT_LENGTH: String(BIG_TEXT.length),
      MAX_REQUEST_BYTES: String(2 * BIG_TEXT.length),
    });
  });
  afterAll(() => server.close());

  const closedSlow = () => metricValue(server.url, 'agent_gateway_slow_consumers_closed_total');
  const activeSubscriptions = () => metricValue(server.url, 'agent_gateway_active_subscriptions');

  /** A raw socket with `count` subscriptions to the conversation, each seen delivering, then stalled. */
  async function stalledSocket(token: string, first: SentRun, count: number): Promise<RawGraphQLSocket> {
    const socket = new RawGraphQLSocket(server.url);
    await socket.init(token);
    for (let id = 1; id <= count; id += 1) {
      const variables = { conversationId: first.conversationId, afterSeq: first.afterSeq };
      socket.sendJson({ id: String(id), type: 'subscribe', payload: { query: EVENTS, variables } });
      await socket.nextMessage((message: any) => message.id === String(id) && message.type === 'next');
    }
    // Stop reading: what the server sends now fills the kernel's buffers, then its own.
    (socket.socket as unknown as { _socket: Socket })._socket.pause();
    return socket;
  }

  /** Sends big messages into the conversation until the server gives up on the stalled socket. */
  async function sendUntilClosed(token: string, conversationId: string, before: number): Promise<number> {
    let sends = 0;
    while ((await closedSlow()) === before) {
      if (++sends > 60) throw new Error('the stalled socket was never closed');
      await send(server.url, token, { text: BIG_TEXT, conversationId });
    }
    return sends;
  }

  async function expectClosedOnce(token: string, subscriptions: number) {
    const first = await send(server.url, token, { text: 'Hello' });
    const before = await closedSlow();
    const activeBefore = await activeSubscriptions();
    const socket = await stalledSocket(token, first, subscriptions);
    await sendUntilClosed(token, first.conversationId, before);
    // Every subscription of the socket ends now, though the client has not read its close frame yet.
    await expect.poll(activeSubscriptions).toBe(activeBefore);
    (socket.socket as unknown as { _socket: Socket })._socket.resume();
    expect((await socket.closed).code).toBe(1013);
    expect((await closedSlow()) - before).toBe(1);
    return first;
  }

  it('closes a stalled single subscription with 1013', async () => {
    await expectClosedOnce(await tokenFor('stalls-one'), 1);
  });

  it('closes a stalled socket with many subscriptions once, and the conversation goes on for others', async () => {
    const token = await tokenFor('stalls-many');
    const first = await expectClosedOnce(token, 20);
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: first.conversationId, afterSeq: first.afterSeq });
    try {
      const last = await send(server.url, token, { text: 'Still there?', conversationId: first.conversationId });
      const events = await recorder.until(
        (received) => received.some((event) => event.runId === last.runId && event.__typename === 'AgentCompleted'),
        'the last run',
      );
      expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => first.afterSeq + 1 + index));
    } finally {
      recorder.stop();
      await client.dispose();
    }
  });

  it('closes a stalled older socket with 1013, and it resumes with after_seq from the last frame it read', async () => {
    const token = await tokenFor('stalls-seed');
    const first = await send(server.url, token, { text: 'Hello' });
    const before = await closedSlow();
    const query = (afterSeq: number) => new URLSearchParams({ session_token: token, conversation_id: first.conversationId, after_seq: String(afterSeq) });
    const socket = new RawJsonSocket(server.url, `/api/ws/agent?${query(first.afterSeq)}`);
    await socket.nextMessage();
    (socket.socket as unknown as { _socket: Socket })._socket.pause();
    await sendUntilClosed(token, first.conversationId, before);
    (socket.socket as unknown as { _socket: Socket })._socket.resume();
    expect((await socket.closed).code).toBe(1013);
    expect((await closedSlow()) - before).toBe(1);

    const read: number[] = [];
    for (;;) {
      const frame = await socket.nextMessage<{ seq: number }>().catch(() => null);
      if (!frame) break;
      read.push(frame.seq);
    }
    const lastSeq = (await userClient(server.url, token)(`query ($id: ID!) { conversation(id: $id) { lastSeq } }`, { id: first.conversationId })).data
      .conversation.lastSeq;
    const resumed = new RawJsonSocket(server.url, `/api/ws/agent?${query(read.at(-1) ?? first.afterSeq + 1)}`);
    const rest: number[] = [];
    while (rest.at(-1) !== lastSeq) rest.push((await resumed.nextMessage<{ seq: number }>()).seq);
    resumed.close();
    // Every event once, in order, across the cut.
    expect([first.afterSeq + 1, ...read, ...rest]).toEqual(Array.from({ length: lastSeq - first.afterSeq }, (_, index) => first.afterSeq + 1 + index));
  });
});
