/**
 * A stream's frames go out together (transport/fan-out/coalesced-writes.ts): a run that streams
 * its tokens one tick apart reaches its watcher in a write per coalescing window, not a write per
 * token, and with no window (WS_COALESCE_MS=0, and APPEND_COALESCE_MS=0 so that the run appends
 * its tokens one by one) in a write per tick. On a busy server, tokens a turn of the event loop
 * apart go out two to a write; on one whose loop waits between tokens, each goes at once. Writes
 * are counted where they leave the process: the server's end of the TCP connection.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingDefault } from '../../src/config.ts';
import type { Socket } from 'node:net';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import type { RunningServer } from '../../src/server.ts';
import { EVENTS, tokenFor, type AgentEvent } from '../support/clients.ts';
import { RawGraphQLSocket } from '../support/raw-ws.ts';
import { awaitRunEnd, send } from '../support/runs.ts';
import { awaitActiveSubscriptions, startTestServer } from '../support/server.ts';

const TOKENS = 40;

/** Streams TOKENS deltas one tick apart, as a model's reply arrives one network read at a time. */
const streaming: AgentDefinition = {
  id: 'test.streaming',
  kind: 'LIAISON',
  pillar: null,
  name: 'Streaming',
  description: 'Streams its tokens one tick apart.',
  async run(context) {
    for (let index = 0; index < TOKENS; index += 1) {
      await context.stream('word ');
      await new Promise((resolve) => setImmediate(resolve));
    }
  },
};

/**
 * Streams TOKENS deltas one turn of the event loop apart, each turn busy for longer than the
 * coalescing window (the CPU burnt here stands for the other streams a loaded server serves in
 * the same turn): the loop never waits for input while it runs.
 */
const busyStreaming: AgentDefinition = {
  ...streaming,
  id: 'test.busy-streaming',
  async run(context) {
    for (let index = 0; index < TOKENS; index += 1) {
      for (const busyUntil = performance.now() + 3; performance.now() < busyUntil;);
      await context.stream('word ');
      await new Promise((resolve) => setImmediate(resolve));
    }
  },
};

/** The writes of the socket being watched (see watchOneRun), and the paced agent's tokens not written at once. */
let watchedSocket = { writes: 0 };
let tokensWrittenLate = 0;
/** The paced agent's tokens before which the event loop did wait for input, for at least the coalescing window. */
let tokensAfterAWait = 0;
const WINDOW_MS = settingDefault('WS_COALESCE_MS');

/**
 * Streams TOKENS deltas 5 ms apart (the first 5 ms after its run's start), longer than the
 * coalescing window: the loop waits for input between them. Counts the tokens whose frame was
 * not written before the loop's next turn, among those before which the loop did wait: on a
 * machine busy enough that the process is off its core for the 5 ms, the timer is due before
 * the loop looks for input, the loop waits not at all, and the server holds the frame a turn as
 * a busy server's (which failed the test once in a full suite).
 */
const pacedStreaming: AgentDefinition = {
  ...streaming,
  id: 'test.paced-streaming',
  async run(context) {
    tokensWrittenLate = 0;
    tokensAfterAWait = 0;
    for (let index = 0; index < TOKENS; index += 1) {
      const idleBefore = performance.nodeTiming.idleTime;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const waited = performance.nodeTiming.idleTime - idleBefore >= WINDOW_MS;
      const writes = watchedSocket.writes;
      await context.stream('word ');
      await new Promise((resolve) => setImmediate(resolve));
      if (!waited) continue;
      tokensAfterAWait += 1;
      if (watchedSocket.writes === writes) tokensWrittenLate += 1;
    }
  },
};

/** Counts the writes of the next WebSocket the server accepts. */
function countWritesOfNextSocket(server: RunningServer): { writes: number } {
  const counted = { writes: 0 };
  server.httpServer.once('upgrade', (_request, socket: Socket) => {
    const { _write: write, _writev: writev } = socket as Socket & { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
    Object.assign(socket, {
      _write: (...args: unknown[]) => ((counted.writes += 1), write.apply(socket, args)),
      _writev: (...args: unknown[]) => ((counted.writes += 1), writev.apply(socket, args)),
    });
  });
  return counted;
}

/** Watches a conversation, runs the streaming agent in it, and answers the writes and frames its events took. */
async function watchOneRun(server: RunningServer, token: string, agentId = streaming.id): Promise<{ writes: number; frames: number }> {
  const first = await send(server.url, token, { text: 'Hello' });
  await awaitRunEnd(server.url, token, first.runId);
  const counted = countWritesOfNextSocket(server);
  watchedSocket = counted;
  const raw = new RawGraphQLSocket(server.url);
  await raw.init(token);
  // Live events only, so that none of the run's events reaches the watcher as a replayed batch.
  raw.sendJson({ id: 'watch', type: 'subscribe', payload: { query: EVENTS, variables: { conversationId: first.conversationId } } });
  await awaitActiveSubscriptions(server, 1);
  const before = counted.writes;
  let frames = 0;
  const ended = raw.nextMessage((message) => {
    const frame = message as { type: string; payload?: { data?: { agentEvents: AgentEvent } } };
    if (frame.type !== 'next') return false;
    frames += 1;
    return frame.payload!.data!.agentEvents.__typename === 'AgentCompleted';
  });
  await send(server.url, token, { text: 'Stream', conversationId: first.conversationId, target: { kind: 'LIAISON', agentId } });
  await ended;
  raw.close();
  return { writes: counted.writes - before, frames };
}

describe('coalesced writes', () => {
  let token: string;
  let windowed: RunningServer;
  let perTick: RunningServer;
  let defaults: RunningServer;
  beforeAll(async () => {
    token = await tokenFor('coalesced-writes');
    // A window longer than the run takes on a quiet machine: its frames after the first go out together.
    windowed = await startTestServer({ WS_COALESCE_MS: '250' }, { agents: [streaming] });
    // Its tokens appended one at a time too (no append window), so that each reaches the socket in a tick of its own.
    perTick = await startTestServer({ WS_COALESCE_MS: '0', APPEND_COALESCE_MS: '0' }, { agents: [streaming] });
    defaults = await startTestServer({}, { agents: [busyStreaming, pacedStreaming] });
  });
  afterAll(() => Promise.all([windowed.close(), perTick.close(), defaults.close()]));

  it('writes a stream whose tokens come a tick apart in a write per window', async () => {
    const { writes, frames } = await watchOneRun(windowed, token);
    expect(frames).toBeGreaterThanOrEqual(TOKENS);
    // The first frame after a quiet spell goes at once, the rest a window's worth at a time: a
    // handful of writes for the run (two on a quiet machine), where a write per tick is 40 or more.
    expect(writes).toBeLessThan(TOKENS / 4);
  });

  it('writes such a stream in a write per tick with no window', async () => {
    const { writes, frames } = await watchOneRun(perTick, token);
    expect(frames).toBeGreaterThanOrEqual(TOKENS);
    expect(writes).toBeGreaterThanOrEqual(TOKENS);
  });

  it('writes the tokens of a busy server, a turn of the loop apart, two to a write', async () => {
    const { writes, frames } = await watchOneRun(defaults, token, busyStreaming.id);
    expect(frames).toBeGreaterThanOrEqual(TOKENS);
    // Each token's frame waits for the next turn and goes out with the next token's: about 20
    // writes for the 40 tokens (the first after a quiet spell goes at once), where the window
    // alone, 1 ms to turns of 3 ms, writes each token on its own.
    expect(writes).toBeLessThanOrEqual(TOKENS / 2 + 3);
  });

  it('writes each token at once when the loop waits for input between them', async () => {
    const { writes, frames } = await watchOneRun(defaults, token, pacedStreaming.id);
    expect(frames).toBeGreaterThanOrEqual(TOKENS);
    expect(writes).toBeGreaterThanOrEqual(TOKENS);
    // Each in the tick it was emitted in, before the loop turns again: a server with time to spare holds nothing.
    expect(tokensAfterAWait).toBeGreaterThan(0);
    expect(tokensWrittenLate).toBe(0);
  });
});
