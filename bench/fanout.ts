/**
 * Delivery benchmark: how the cost of streaming a run grows with subscribers and concurrent
 * conversations. It runs a baseline (one conversation, one subscriber) and the loaded scenarios
 * in the same process and reports each as a ratio to the baseline, so the figures compare across
 * machines. Usage: npm run bench [-- --conversations 40 --subscribers 5 --rounds 3]
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { EventRecorder, SEND, tokenFor, userClient, wsClient } from '../test/support/clients.ts';
import { TEST_SECRET } from '../test/support/server.ts';

const { values: options } = parseArgs({
  options: {
    conversations: { type: 'string', default: '40' },
    subscribers: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
  },
});

interface Scenario {
  name: string;
  conversations: number;
  subscribersPerConversation: number;
}

interface Measurement {
  scenario: string;
  eventsDelivered: number;
  seconds: number;
  eventsPerSecond: number;
  p50LatencyMs: number;
  p99LatencyMs: number;
}

async function measure(server: RunningServer, scenario: Scenario, round: number): Promise<Measurement> {
  const latencies: number[] = [];
  const started = performance.now();
  const streams = await Promise.all(
    Array.from({ length: scenario.conversations }, async (_, index) => {
      const token = await tokenFor(`bench-${round}-${index}`);
      const sent = (await userClient(server.url, token)(SEND, { input: { text: 'Hello, tell me about the platform' } })).data
        .sendAgentMessage;
      const clients = Array.from({ length: scenario.subscribersPerConversation }, () => wsClient(server.url, token));
      const recorders = clients.map(
        (client) => new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq }),
      );
      const received = await Promise.all(recorders.map((recorder) => recorder.untilTerminals(1)));
      const arrived = Date.now();
      for (const events of received) latencies.push(arrived - Date.parse(events.at(-1)!.timestamp));
      recorders.forEach((recorder) => recorder.stop());
      await Promise.all(clients.map((client) => client.dispose()));
      return received.reduce((sum, events) => sum + events.length, 0);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const eventsDelivered = streams.reduce((sum, count) => sum + count, 0);
  latencies.sort((a, b) => a - b);
  const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    scenario: scenario.name,
    eventsDelivered,
    seconds,
    eventsPerSecond: eventsDelivered / seconds,
    p50LatencyMs: percentile(0.5),
    p99LatencyMs: percentile(0.99),
  };
}

const conversations = Number(options.conversations);
const subscribers = Number(options.subscribers);
const scenarios: Scenario[] = [
  { name: 'baseline: 1 conversation x 1 subscriber', conversations: 1, subscribersPerConversation: 1 },
  { name: `fan-out: 1 conversation x ${subscribers * 10} subscribers`, conversations: 1, subscribersPerConversation: subscribers * 10 },
  { name: `concurrency: ${conversations} conversations x 1 subscriber`, conversations, subscribersPerConversation: 1 },
  { name: `mixed: ${conversations} conversations x ${subscribers} subscribers`, conversations, subscribersPerConversation: subscribers },
];

const config = loadConfig({
  NODE_ENV: 'test',
  PORT: '0',
  AUTH_JWT_SECRET: TEST_SECRET,
  AGENT_STEP_DELAY_MS: '0',
  SEND_RATE_LIMIT: '1000000',
});
const server = await startServer(config, pino({ level: 'silent' }));
const results: Measurement[] = [];
try {
  for (let round = 0; round < Number(options.rounds); round += 1) {
    for (const scenario of scenarios) results.push(await measure(server, scenario, round));
  }
} finally {
  await server.close();
}

/** The best round of each scenario: the least disturbed by the rest of the machine. */
const best = scenarios.map((scenario) =>
  results.filter((result) => result.scenario === scenario.name).sort((a, b) => b.eventsPerSecond - a.eventsPerSecond)[0]!,
);
const baseline = best[0]!;
const report = best.map((result) => ({
  ...result,
  throughputVsBaseline: Number((result.eventsPerSecond / baseline.eventsPerSecond).toFixed(2)),
}));
console.table(
  report.map(({ scenario, eventsDelivered, eventsPerSecond, p50LatencyMs, p99LatencyMs, throughputVsBaseline }) => ({
    scenario,
    events: eventsDelivered,
    'events/s': Math.round(eventsPerSecond),
    'x baseline': throughputVsBaseline,
    'p50 ms': p50LatencyMs,
    'p99 ms': p99LatencyMs,
  })),
);
await writeFile(
  new URL('./results/latest.local.json', import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, report }, null, 2)}\n`,
);
