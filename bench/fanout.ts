/**
 * The delivery comparison, in one run so that its ratios hold on a busy machine: the floor (a raw
 * `ws` broadcast), the typical stack (yoga + graphql-ws + Redis pub/sub) and ours on memory and on
 * Redis deliver the same ~390-byte events to subscribers in separate processes. Measured per
 * server: events delivered per server CPU-second (the OS's accounting of the server process),
 * latency p50/p99 at a light fixed rate, memory per idle subscribed connection, and (ours) the
 * CPU of a run early and late in a long conversation.
 *
 * Usage: npm run bench [-- --connections 10000 --runs 2000 --servers floor,typical,memory,redis]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startRedis } from '../test/support/redis-server.ts';
import { tokenFor } from '../test/support/clients.ts';
import { TEST_SECRET } from '../test/support/server.ts';
import { Child } from './ipc.ts';

const { values: options } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '2000' },
    servers: { type: 'string', default: 'floor,typical,memory,redis' },
    scale: { type: 'string', default: '1' },
  },
});
const scale = Number(options.scale);

interface Scenario {
  name: string;
  conversations: number;
  perConversation: number;
  /** Events published to each conversation. */
  events: number;
}

const SCENARIOS: Scenario[] = [
  { name: '1 conv x 1 sub', conversations: 1, perConversation: 1, events: 20_000 },
  { name: 'x 10', conversations: 1, perConversation: 10, events: 5_000 },
  { name: 'x 100', conversations: 1, perConversation: 100, events: 800 },
  { name: 'x 1000', conversations: 1, perConversation: 1000, events: 100 },
  { name: '500 convs x 1', conversations: 500, perConversation: 1, events: 100 },
].map((scenario) => ({ ...scenario, events: Math.max(10, Math.round(scenario.events * scale)) }));

const LATENCY = { conversations: 1, perConversation: 100, perSecond: 50, events: 200 };
const POOLS = 4;

interface ServerKind {
  name: string;
  script: string;
  protocol: 'graphql-ws' | 'floor';
  redis: boolean;
  ours: boolean;
}

const KINDS: Record<string, ServerKind> = {
  floor: { name: 'raw ws broadcast (floor)', script: './servers/floor.ts', protocol: 'floor', redis: false, ours: false },
  typical: { name: 'yoga + graphql-ws + Redis pub/sub', script: './servers/typical.ts', protocol: 'graphql-ws', redis: true, ours: false },
  memory: { name: 'ours, memory', script: './servers/ours.ts', protocol: 'graphql-ws', redis: false, ours: true },
  redis: { name: 'ours, Redis', script: './servers/ours.ts', protocol: 'graphql-ws', redis: true, ours: true },
};

interface ServerResult {
  server: string;
  eventsPerCpuSecond: Record<string, number>;
  latencyMs: { p50: number; p99: number };
  memory: { connections: number; rssBytesPerConnection: number; heapBytesPerConnection: number };
  runCpuMs?: { firstRuns: number; lastRuns: number; runs: number };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

/** Opens `conversationIds` (one connection each) across the pools, and waits until each one hears events. */
async function subscribe(server: Child, pools: Child[], kind: ServerKind, url: string, token: string, conversationIds: string[]) {
  const unique = [...new Set(conversationIds)];
  await server.request('prepare', { conversationIds: unique });
  const shares = pools.map((_, index) => conversationIds.filter((__, at) => at % pools.length === index));
  await Promise.all(pools.map((pool, index) => pool.request('open', { url, protocol: kind.protocol, token, conversationIds: shares[index] })));
  // Subscriptions become live some time after they are sent: publish until every connection hears.
  for (let attempt = 0; ; attempt += 1) {
    await server.request('publish', { conversationIds: unique, count: 1 });
    await pause(100);
    const listening = (await Promise.all(pools.map((pool) => pool.request<number>('listening')))).reduce((a, b) => a + b, 0);
    if (listening === conversationIds.length) break;
    if (attempt > 300) throw new Error(`${kind.name}: only ${listening} of ${conversationIds.length} connections hear events`);
  }
  await pause(300); // let the warm-up events in flight arrive before counting starts
  await Promise.all(pools.map((pool) => pool.request('reset', {})));
  return shares;
}

async function measureServer(kind: ServerKind, redisUrl: string): Promise<ServerResult> {
  const env: Record<string, string> = { BENCH_SECRET: TEST_SECRET };
  if (kind.redis) env['REDIS_URL'] = redisUrl;
  if (kind.ours) env['REDIS_KEY_PREFIX'] = `bench-${randomUUID()}:`;
  const server = await Child.start(kind.script, env);
  const pools = await Promise.all(Array.from({ length: POOLS }, () => Child.start('./subscribers.ts')));
  const url = await server.request<string>('url');
  const token = await tokenFor('bench');
  const cpu = () => server.request<number>('cpu');
  const closeAll = () => Promise.all(pools.map((pool) => pool.request('close')));
  try {
    const idle = Number(options.connections);
    const idleIds = Array.from({ length: idle }, (_, n) => `idle-${Math.floor(n / 10)}`);
    // First, on a fresh server: what the connections hold, not what earlier scenarios left behind.
    const empty = await server.request('memory');
    await subscribe(server, pools, kind, url, token, idleIds);
    const full = await server.request('memory');
    const memory = {
      connections: idle,
      rssBytesPerConnection: Math.round((full.rss - empty.rss) / idle),
      heapBytesPerConnection: Math.round((full.heapUsed + full.external - empty.heapUsed - empty.external) / idle),
    };
    console.error(`${kind.name}: ${memory.rssBytesPerConnection} B RSS per idle subscribed connection`);
    await closeAll();

    const eventsPerCpuSecond: Record<string, number> = {};
    for (const [index, scenario] of SCENARIOS.entries()) {
      const conversations = Array.from({ length: scenario.conversations }, (_, n) => `s${index}-${n}`);
      const connections = conversations.flatMap((id) => Array(scenario.perConversation).fill(id) as string[]);
      const shares = await subscribe(server, pools, kind, url, token, connections);
      const before = await cpu();
      await server.request('publish', { conversationIds: conversations, count: scenario.events });
      await Promise.all(pools.map((pool, at) => pool.request('until', { count: shares[at]!.length * scenario.events })));
      const cpuSeconds = ((await cpu()) - before) / 1e6;
      eventsPerCpuSecond[scenario.name] = Math.round((connections.length * scenario.events) / cpuSeconds);
      console.error(`${kind.name}: ${scenario.name}: ${eventsPerCpuSecond[scenario.name]} events per CPU-second`);
      await closeAll();
    }

    const latencyIds = Array.from({ length: LATENCY.conversations }, (_, n) => `lat-${n}`);
    const latencyConnections = latencyIds.flatMap((id) => Array(LATENCY.perConversation).fill(id) as string[]);
    const latencyShares = await subscribe(server, pools, kind, url, token, latencyConnections);
    await Promise.all(pools.map((pool) => pool.request('reset', { latency: true })));
    await server.request('publish', { conversationIds: latencyIds, count: LATENCY.events, perSecond: LATENCY.perSecond });
    await Promise.all(pools.map((pool, at) => pool.request('until', { count: latencyShares[at]!.length * LATENCY.events })));
    const latencies = (await Promise.all(pools.map((pool) => pool.request<number[]>('latencies')))).flat().sort((a, b) => a - b);
    const latencyMs = { p50: Number(percentile(latencies, 0.5).toFixed(2)), p99: Number(percentile(latencies, 0.99).toFixed(2)) };
    console.error(`${kind.name}: latency p50 ${latencyMs.p50} ms, p99 ${latencyMs.p99} ms`);
    await closeAll();

    const result: ServerResult = { server: kind.name, eventsPerCpuSecond, latencyMs, memory };
    if (kind.ours && Number(options.runs) > 10) {
      const runs = Number(options.runs);
      const { firstMsPerRun, lastMsPerRun } = await server.request('runs', { count: runs, sample: 10 });
      result.runCpuMs = { firstRuns: Number(firstMsPerRun.toFixed(2)), lastRuns: Number(lastMsPerRun.toFixed(2)), runs };
      console.error(`${kind.name}: CPU per run ${result.runCpuMs.firstRuns} ms (runs 1-10), ${result.runCpuMs.lastRuns} ms (runs ${runs - 9}-${runs})`);
    }
    return result;
  } finally {
    await Promise.all([server, ...pools].map((child) => child.stop()));
  }
}

const redis = await startRedis();
const results: ServerResult[] = [];
try {
  for (const key of options.servers.split(',')) results.push(await measureServer(KINDS[key]!, redis.url));
} finally {
  await redis.stop();
}

const find = (prefix: string) => results.find((result) => result.server.startsWith(prefix));
const floor = find('raw ws');
const typical = find('yoga');
const ratio = (value: number, base: number | undefined) => (base ? Number((value / base).toFixed(2)) : null);

const throughput = results.map((result) => ({
  server: result.server,
  ...Object.fromEntries(SCENARIOS.map((scenario) => [scenario.name, result.eventsPerCpuSecond[scenario.name]])),
}));
const comparison = results.map((result) => ({
  server: result.server,
  ...Object.fromEntries(
    SCENARIOS.flatMap((scenario) => {
      const value = result.eventsPerCpuSecond[scenario.name]!;
      return [
        [`${scenario.name} /floor`, ratio(value, floor?.eventsPerCpuSecond[scenario.name])],
        [`${scenario.name} /typical`, ratio(value, typical?.eventsPerCpuSecond[scenario.name])],
      ];
    }),
  ),
}));
const other = results.map((result) => ({
  server: result.server,
  'p50 ms': result.latencyMs.p50,
  'p99 ms': result.latencyMs.p99,
  'p99 - floor p99 ms': floor ? Number((result.latencyMs.p99 - floor.latencyMs.p99).toFixed(2)) : null,
  [`RSS B/conn @${options.connections}`]: result.memory.rssBytesPerConnection,
  'heap+ext B/conn': result.memory.heapBytesPerConnection,
  'run CPU ms, first 10': result.runCpuMs?.firstRuns ?? null,
  'run CPU ms, last 10': result.runCpuMs?.lastRuns ?? null,
}));

console.log('Events delivered per server CPU-second (higher is better)');
console.table(throughput);
console.log('Ratios to the floor and to the typical stack, same run');
console.table(comparison);
console.log(`Latency at ${LATENCY.perSecond} events/s to ${LATENCY.perConversation} subscribers, memory per idle subscribed connection, run cost`);
console.table(other);

await mkdir(new URL('./results/', import.meta.url), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
await writeFile(
  new URL(`./results/${stamp}.json`, import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, options, scenarios: SCENARIOS, results, comparison, other }, null, 2)}\n`,
);
