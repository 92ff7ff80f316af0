/**
 * What each protocol's adapter costs the gateway: events per server CPU-second for the same runs
 * (the deterministic `bench.tokens` agent streaming N tokens, one run at a time, one subscriber),
 * followed through GraphQL (graphql-ws) and through each other protocol (AG-UI, the older
 * /api/ws/agent socket), in alternating rounds of
 * one run so that whatever else the machine does weighs on all alike. The gateway runs as its own
 * process and its CPU time is read from /proc; the clients run here, outside the measurement.
 * Usage: npx tsx bench/protocols.ts [-- --tokens 1000 --runs 5 --rounds 4]
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseJsonEventStream, uiMessageChunkSchema } from 'ai';
import { EventRecorder, SEND, tokenFor, userClient, wsClient } from '../test/support/clients.ts';
import { freePort, spawnGateway, waitForHealthy } from '../test/support/process.ts';
import { RawJsonSocket } from '../test/support/raw-ws.ts';
import { readSse } from '../test/support/sse.ts';
import { cpuSeconds } from './support/cpu.ts';
import { benchGatewaySettings } from './support/gateway-settings.ts';

const { values: options } = parseArgs({
  options: {
    tokens: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '4' },
  },
});
const tokens = Number(options.tokens);
const AGENT = 'bench.tokens';

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const gateway = spawnGateway(
  {
    ...benchGatewaySettings(port),
  },
  'bench/support/token-gateway.ts',
);

/** One run followed to its end through a protocol; resolves with the events (or frames) received. */
type Follow = (token: string) => Promise<number>;

async function overGraphQL(token: string): Promise<number> {
  const sent = (await userClient(url, token)(SEND, { input: { text: `tokens ${tokens}`, target: { kind: 'LIAISON', agentId: AGENT } } })).data.sendAgentMessage;
  const client = wsClient(url, token);
  const recorder = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq });
  const received = await recorder.untilTerminals(1);
  if (received.at(-1)?.__typename !== 'AgentCompleted') throw new Error(`a run ended ${JSON.stringify(received.at(-1))}`);
  recorder.stop();
  await client.dispose();
  return received.length;
}

async function overAgUi(token: string): Promise<number> {
  const response = await fetch(`${url}/ag-ui/${AGENT}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      threadId: randomUUID(),
      runId: randomUUID(),
      messages: [{ id: randomUUID(), role: 'user', content: `tokens ${tokens}` }],
      tools: [],
      context: [],
    }),
  });
  let events = 0;
  let last = '';
  // Our events, counted as the messages that carry an id (one per event of ours).
  for await (const message of readSse(response.body!)) {
    if (message.id !== undefined) events += 1;
    last = message.data;
  }
  if (!last.includes('RUN_FINISHED')) throw new Error(`an AG-UI run ended ${last}`);
  return events;
}

async function overAiSdk(token: string): Promise<number> {
  const response = await fetch(`${url}/ai-sdk/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      id: randomUUID(),
      messages: [{ id: randomUUID(), role: 'user', parts: [{ type: 'text', text: `tokens ${tokens}` }] }],
      agentId: AGENT,
    }),
  });
  const reader = parseJsonEventStream({ stream: response.body!, schema: uiMessageChunkSchema }).getReader();
  let deltas = 0;
  let last = '';
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    if (!read.value.success) throw read.value.error;
    if (read.value.value.type === 'text-delta') deltas += 1;
    last = read.value.value.type;
  }
  if (last !== 'finish') throw new Error(`an AI SDK run ended with ${last}`);
  // Counted as AG-UI's are: one per token, the start and the end.
  return deltas + 2;
}

async function overOlderSocket(token: string): Promise<number> {
  const socket = new RawJsonSocket(url, `/api/ws/agent?session_token=${token}`);
  await socket.opened();
  socket.sendJson({ agent_id: AGENT, message: `tokens ${tokens}` });
  // Every event of the run is a frame, from the user's message to `complete`.
  for (let frames = 1; ; frames += 1) {
    const frame = await socket.nextMessage<{ type: string }>();
    if (frame.type === 'complete') {
      socket.close();
      return frames;
    }
    if (frame.type === 'error' || frame.type === 'cancelled') throw new Error(`a run on /api/ws/agent ended ${JSON.stringify(frame)}`);
  }
}

const phases: { name: string; follow: Follow; events: number; cpu: number }[] = [
  { name: 'GraphQL (graphql-ws)', follow: overGraphQL, events: 0, cpu: 0 },
  { name: 'AG-UI (SSE)', follow: overAgUi, events: 0, cpu: 0 },
  { name: 'AI SDK UI (SSE)', follow: overAiSdk, events: 0, cpu: 0 },
  { name: 'older socket (/api/ws/agent)', follow: overOlderSocket, events: 0, cpu: 0 },
];

try {
  await waitForHealthy(url, gateway);
  const token = await tokenFor('bench-protocols');
  const pid = gateway.child.pid!;
  for (const phase of phases) await phase.follow(token); // warm up every path
  for (let round = 0; round < Number(options.rounds); round += 1) {
    for (const phase of phases) {
      for (let run = 0; run < Number(options.runs); run += 1) {
        const before = await cpuSeconds(pid);
        phase.events += await phase.follow(token);
        phase.cpu += (await cpuSeconds(pid)) - before;
      }
    }
  }
} finally {
  await gateway.kill();
}

const graphql = phases[0]!.events / phases[0]!.cpu;
const report = {
  date: new Date().toISOString(),
  node: process.version,
  tokensPerRun: tokens,
  phases: phases.map(({ name, events, cpu }) => ({
    name,
    events,
    cpuSeconds: Number(cpu.toFixed(2)),
    eventsPerCpuSecond: Math.round(events / cpu),
    /** Above 1: the protocol delivers more events per server CPU-second than GraphQL. */
    vsGraphQL: Number((events / cpu / graphql).toFixed(2)),
  })),
};
console.table(report.phases);
await writeFile(new URL('./results/protocols.local.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
