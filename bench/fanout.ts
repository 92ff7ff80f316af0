/**
 * The delivery comparison, in one run so that its ratios hold on a busy machine: the floor (a raw
 * `ws` broadcast), the Redis floor (the same behind one Redis pub/sub round trip), the typical
 * stack (yoga + graphql-ws + Redis pub/sub) and ours on memory, on Redis, on PostgreSQL + Redis and on PostgreSQL + a
 * three-primary Redis Cluster deliver the same
 * ~390-byte events to subscribers in separate processes. Measured per
 * server: events delivered per server CPU-second (the OS's accounting of the server process) and,
 * on Redis, the Redis processes' CPU per event (their own count),
 * latency p50/p99 at a light fixed rate, memory per idle subscribed connection, and (ours) the
 * CPU of a run early and late in a long conversation.
 *
 * Latency on a shared machine: a p99 of one 6-second window is decided by a few dozen samples, and
 * a process of the bench descheduled for 100 ms (another process wanted the core) decides it
 * alone. So every server gets a fresh process, warmed up at the measured rate, and is measured in
 * several windows that take turns with the other servers'; the figures are the medians over the
 * windows, with the floor's own spread beside them.
 *
 * Usage: npm run bench [-- --connections 10000 --idle-per-conversation 1 --runs 2000 --servers floor,redis-floor,typical,memory,redis
 *   --scale 1 (events per scenario) --scenarios 0,4 (which columns) --measure memory,throughput,latency,runs
 *   --latency-windows 5 --latency-subscribers 10 --latency-samples (each delivery's latency and the servers' GCs in the results)
 *   --profile <dir> (V8 CPU profiles of the servers)]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startPostgres, type TestPostgres } from '../test/support/postgres-server.ts';
import { startRedisCluster, type TestRedisCluster } from '../test/support/redis-cluster.ts';
import { startRedis } from '../test/support/redis-server.ts';
import { createClient } from 'redis';
import { perRun, postgresCounts } from './postgres-counts.ts';
import { tokenFor } from '../test/support/clients.ts';
import { TEST_SECRET } from '../test/support/server.ts';
import { wallClockMs } from './event.ts';
import { Child } from './ipc.ts';
import type { GarbageCollection } from './servers/common.ts';

const { values: options } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    'idle-per-conversation': { type: 'string', default: '1' },
    runs: { type: 'string', default: '2000' },
    servers: { type: 'string', default: 'floor,redis-floor,typical,memory,redis,postgres' },
    scale: { type: 'string', default: '1' },
    profile: { type: 'string' },
    scenarios: { type: 'string' },
    measure: { type: 'string', default: 'memory,throughput,latency,runs' },
    'latency-windows': { type: 'string', default: '5' },
    'latency-subscribers': { type: 'string', default: '10' },
    'latency-samples': { type: 'boolean', default: false },
  },
});
const scale = Number(options.scale);
const measuring = (what: string) => options.measure.split(',').includes(what);

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
]
  .map((scenario) => ({ ...scenario, events: Math.max(10, Math.round(scenario.events * scale)) }))
  .filter((_, index) => !options.scenarios || options.scenarios.split(',').includes(String(index)));

/**
 * Each window publishes `events`; `warmUp` events at the same rate go first, uncounted. The
 * subscribers share one pool process: with several, every event wakes them all at once on a
 * 2-core machine, where they wait for a core (the server's among them, still sending) and the
 * slowest wake-up of the lot is what the last subscriber's latency measures.
 */
const LATENCY = {
  conversations: 1,
  perConversation: Number(options['latency-subscribers']),
  perSecond: 50,
  events: 300,
  warmUp: 100,
  pools: 1,
  windows: Number(options['latency-windows']),
};
const POOLS = 4;
/** Connections that subscribe and leave before the memory readings, so that V8 has compiled (and optimized) their path. */
const MEMORY_WARM_UP_CONNECTIONS = 1000;

interface ServerKind {
  name: string;
  script: string;
  protocol: 'graphql-ws' | 'floor';
  redis: boolean;
  ours: boolean;
  /** PostgreSQL as the store of record (a database of its own), Redis as the live layer. */
  postgres?: boolean;
  /** Redis (the live layer, or the store of record without PostgreSQL) on a Redis Cluster of three primaries (and their replicas) rather than one Redis. */
  cluster?: boolean;
}

const KINDS: Record<string, ServerKind> = {
  floor: { name: 'raw ws broadcast (floor)', script: './servers/floor.ts', protocol: 'floor', redis: false, ours: false },
  // What any fan-out across instances through Redis pays on top of the floor: one pub/sub round trip.
  'redis-floor': { name: 'Redis pub/sub + raw ws (Redis floor)', script: './servers/floor.ts', protocol: 'floor', redis: true, ours: false },
  typical: { name: 'yoga + graphql-ws + Redis pub/sub', script: './servers/typical.ts', protocol: 'graphql-ws', redis: true, ours: false },
  memory: { name: 'ours, memory', script: './servers/ours.ts', protocol: 'graphql-ws', redis: false, ours: true },
  redis: { name: 'ours, Redis', script: './servers/ours.ts', protocol: 'graphql-ws', redis: true, ours: true },
  postgres: { name: 'ours, PostgreSQL + Redis', script: './servers/ours.ts', protocol: 'graphql-ws', redis: true, ours: true, postgres: true },
  'redis-cluster': { name: 'ours, Redis Cluster', script: './servers/ours.ts', protocol: 'graphql-ws', redis: true, ours: true, cluster: true },
  'postgres-cluster': {
    name: 'ours, PostgreSQL + Redis Cluster',
    script: './servers/ours.ts',
    protocol: 'graphql-ws',
    redis: true,
    ours: true,
    postgres: true,
    cluster: true,
  },
};

interface ServerResult {
  server: string;
  eventsPerCpuSecond: Record<string, number>;
  /** Servers on Redis: the Redis processes' CPU per event delivered, in microseconds (their own count, INFO cpu). */
  redisCpuMicrosPerEvent?: Record<string, number>;
  latencyMs?: LatencyFigures;
  memory?: { connections: number; perConversation: number; rssBytesPerConnection: number; heapBytesPerConnection: number };
  runCpuMs?: { firstRuns: number; lastRuns: number; runs: number };
  /** On PostgreSQL, over the runs measured: what PostgreSQL counted. */
  postgres?: ReturnType<typeof perRun>;
}

interface Percentiles {
  p50: number;
  p99: number;
}

/** In the server: publish to each frame written to its socket, and per event to its first and its last subscriber's. */
interface InServer extends Percentiles {
  firstWrite: Percentiles;
  lastWrite: Percentiles;
}

interface LatencyWindow {
  p50: number;
  p99: number;
  server: InServer;
  /** With --latency-samples: [ms since the window's first publish, latency ms] per delivery and per send, and the server's GCs. */
  samples?: [number, number][];
  sends?: [number, number][];
  collections?: GarbageCollection[];
}

interface LatencyFigures {
  /** Medians over the windows. */
  p50: number;
  p99: number;
  /** The lowest and highest p99 of a window. */
  p99Range: [number, number];
  /** Over every sample of every window. */
  p99AllSamples: number;
  /** Medians over the windows of the server's own part. */
  server: InServer;
  windows: LatencyWindow[];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
const ascending = (values: number[]) => [...values].sort((a, b) => a - b);
const percentiles = (sorted: number[]): Percentiles => ({ p50: ms(percentile(sorted, 0.5)), p99: ms(percentile(sorted, 0.99)) });

/** The latencies of each event's first and last write (events told apart by their publish time), ascending. */
function writesPerEvent(sends: [number, number][]): { first: number[]; last: number[] } {
  const byEvent = new Map<number, [first: number, last: number]>();
  for (const [at, latency] of sends) {
    const seen = byEvent.get(at);
    if (seen) byEvent.set(at, [Math.min(seen[0], latency), Math.max(seen[1], latency)]);
    else byEvent.set(at, [latency, latency]);
  }
  const each = [...byEvent.values()];
  return { first: ascending(each.map(([first]) => first)), last: ascending(each.map(([, last]) => last)) };
}
const median = (values: number[]) => percentile(ascending(values), 0.5);
const medianOf = (each: Percentiles[]): Percentiles => ({ p50: median(each.map((one) => one.p50)), p99: median(each.map((one) => one.p99)) });
const ms = (value: number) => Number(value.toFixed(2));

/** One server under test with its subscriber pools, and what can be measured on it. */
class Bench {
  private constructor(
    readonly kind: ServerKind,
    readonly server: Child,
    readonly pools: Child[],
    readonly url: string,
    readonly token: string,
    /** The server's database, on PostgreSQL. */
    readonly databaseUrl: string | undefined,
    /** The Redis processes the server works on (every node of a cluster). */
    readonly redisNodes: string[],
  ) {}

  static async start(kind: ServerKind, redisUrl: string, poolCount = POOLS): Promise<Bench> {
    const env: Record<string, string> = { BENCH_SECRET: TEST_SECRET };
    if (kind.cluster) env['REDIS_CLUSTER_NODES'] = (await theCluster()).urls.join(',');
    else if (kind.redis) env['REDIS_URL'] = redisUrl;
    if (kind.ours) env['REDIS_KEY_PREFIX'] = `bench-${randomUUID()}:`;
    if (kind.postgres) env['DATABASE_URL'] = await (postgres ??= await startPostgres()).createDatabase();
    const server = await Child.start(kind.script, env, options.profile);
    const pools = await Promise.all(Array.from({ length: poolCount }, () => Child.start('./subscribers.ts')));
    const redisNodes = kind.cluster ? (await theCluster()).urls : kind.redis ? [redisUrl] : [];
    return new Bench(kind, server, pools, await server.request<string>('url'), await tokenFor('bench'), env['DATABASE_URL'], redisNodes);
  }

  stop() {
    return Promise.all([this.server, ...this.pools].map((child) => child.stop()));
  }

  /** Opens `conversationIds` (one connection each) across the pools, and waits until each one hears events. */
  private async subscribe(conversationIds: string[]): Promise<string[][]> {
    const { server, pools, kind } = this;
    const unique = [...new Set(conversationIds)];
    await server.request('prepare', { conversationIds: unique });
    const shares = pools.map((_, index) => conversationIds.filter((__, at) => at % pools.length === index));
    await Promise.all(
      pools.map((pool, index) => pool.request('open', { url: this.url, protocol: kind.protocol, token: this.token, conversationIds: shares[index] })),
    );
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

  private closeAll() {
    return Promise.all(this.pools.map((pool) => pool.request('close')));
  }

  private cpuMicros() {
    return this.server.request<number>('cpu');
  }

  /**
   * What each idle subscribed connection adds; first, on a fresh server, so that nothing earlier
   * is counted. Before the first reading, a few connections subscribe and leave, so that the
   * code they run is compiled (a cost paid once, not per connection), and the conversations
   * exist and have had an event (what a store or the bench's publisher keeps per conversation is
   * not the connection's).
   */
  async memory(connections: number, perConversation: number): Promise<NonNullable<ServerResult['memory']>> {
    await this.subscribe(Array.from({ length: MEMORY_WARM_UP_CONNECTIONS }, (_, n) => `idle-warm-up-${n}`));
    await this.closeAll();
    const ids = Array.from({ length: connections }, (_, n) => `idle-${Math.floor(n / perConversation)}`);
    const conversationIds = [...new Set(ids)];
    await this.server.request('prepare', { conversationIds });
    await this.server.request('publish', { conversationIds, count: 1 });
    const empty = await this.server.request('memory');
    await this.subscribe(ids);
    const full = await this.server.request('memory');
    await this.closeAll();
    return {
      connections,
      perConversation,
      rssBytesPerConnection: Math.round((full.rss - empty.rss) / connections),
      heapBytesPerConnection: Math.round((full.heapUsed + full.external - empty.heapUsed - empty.external) / connections),
    };
  }

  /** Events delivered per server CPU-second, and the Redis processes' CPU per event delivered (µs). */
  async throughput(scenario: Scenario, tag: string): Promise<{ perCpuSecond: number; redisMicrosPerEvent: number | null }> {
    const conversations = Array.from({ length: scenario.conversations }, (_, n) => `${tag}-${n}`);
    const connections = conversations.flatMap((id) => Array(scenario.perConversation).fill(id) as string[]);
    const shares = await this.subscribe(connections);
    const redisBefore = await redisCpuMicros(this.redisNodes);
    const before = await this.cpuMicros();
    await this.server.request('publish', { conversationIds: conversations, count: scenario.events });
    await Promise.all(this.pools.map((pool, at) => pool.request('until', { count: shares[at]!.length * scenario.events })));
    const cpuSeconds = ((await this.cpuMicros()) - before) / 1e6;
    const redisMicros = (await redisCpuMicros(this.redisNodes)) - redisBefore;
    await this.closeAll();
    const delivered = connections.length * scenario.events;
    return {
      perCpuSecond: Math.round(delivered / cpuSeconds),
      redisMicrosPerEvent: this.redisNodes.length ? Number((redisMicros / delivered).toFixed(2)) : null,
    };
  }

  private latencyShares: string[][] = [];
  private readonly latencyIds = Array.from({ length: LATENCY.conversations }, (_, n) => `lat-${n}`);

  /**
   * Subscribes the latency connections and publishes `LATENCY.warmUp` events at the measured
   * rate, uncounted: the first events through a path pay for its compilation (V8's and the
   * server's own caches), not for delivery.
   */
  async prepareLatency(): Promise<void> {
    this.latencyShares = await this.subscribe(this.latencyIds.flatMap((id) => Array(LATENCY.perConversation).fill(id) as string[]));
    await this.publishAtRate(LATENCY.warmUp);
  }

  /** One window of `LATENCY.events` at the light rate: its figures, and every delivery's latency, ascending. */
  async latencyWindow(): Promise<{ window: LatencyWindow; latencies: number[] }> {
    await Promise.all([...this.pools.map((pool) => pool.request('reset', { latency: true })), this.server.request('recordSends')]);
    const started = wallClockMs();
    await this.publishAtRate(LATENCY.events);
    const samples = (await Promise.all(this.pools.map((pool) => pool.request<[number, number][]>('latencies')))).flat();
    const sends = await this.server.request<[number, number][]>('sends');
    const sorted = ascending(samples.map(([, latency]) => latency));
    const inServer = ascending(sends.map(([, latency]) => latency));
    const { first, last } = writesPerEvent(sends);
    const window: LatencyWindow = {
      ...percentiles(sorted),
      server: { ...percentiles(inServer), firstWrite: percentiles(first), lastWrite: percentiles(last) },
    };
    if (options['latency-samples']) {
      const relative = (pairs: [number, number][]) =>
        pairs.sort((a, b) => a[0] - b[0]).map(([at, latency]): [number, number] => [ms(at - started), ms(latency)]);
      window.samples = relative(samples);
      window.sends = relative(sends);
      window.collections = (await this.server.request<GarbageCollection[]>('collections', { since: started })).map((gc) => ({
        ...gc,
        at: ms(gc.at - started),
      }));
    }
    return { window, latencies: sorted };
  }

  private async publishAtRate(count: number): Promise<void> {
    await this.server.request('publish', { conversationIds: this.latencyIds, count, perSecond: LATENCY.perSecond });
    await Promise.all(this.pools.map((pool, at) => pool.request('until', { count: this.latencyShares[at]!.length * count })));
  }

  /** Ours only: server CPU per run at the start of a conversation and at its end. */
  async runs(count: number): Promise<NonNullable<ServerResult['runCpuMs']>> {
    const { firstMsPerRun, lastMsPerRun } = await this.server.request('runs', { count, sample: 10 });
    return { firstRuns: Number(firstMsPerRun.toFixed(2)), lastRuns: Number(lastMsPerRun.toFixed(2)), runs: count };
  }
}

async function measureServer(kind: ServerKind, redisUrl: string): Promise<ServerResult> {
  const bench = await Bench.start(kind, redisUrl);
  const result: ServerResult = { server: kind.name, eventsPerCpuSecond: {} };
  const log = (what: string) => console.error(`${kind.name}: ${what}`);
  try {
    if (measuring('memory')) {
      const memory = await bench.memory(Number(options.connections), Number(options['idle-per-conversation']));
      result.memory = memory;
      log(`${memory.heapBytesPerConnection} B of heap and external memory (${memory.rssBytesPerConnection} B RSS) per idle subscribed connection`);
    }
    if (measuring('throughput')) {
      for (const [index, scenario] of SCENARIOS.entries()) {
        const { perCpuSecond, redisMicrosPerEvent } = await bench.throughput(scenario, `s${index}`);
        result.eventsPerCpuSecond[scenario.name] = perCpuSecond;
        if (redisMicrosPerEvent !== null) (result.redisCpuMicrosPerEvent ??= {})[scenario.name] = redisMicrosPerEvent;
        log(`${scenario.name}: ${perCpuSecond} events per CPU-second${redisMicrosPerEvent === null ? '' : `, Redis ${redisMicrosPerEvent} µs per event`}`);
      }
    }
    if (measuring('runs') && kind.ours) {
      const before = bench.databaseUrl && (await postgresCounts(bench.databaseUrl));
      const runs = await bench.runs(Number(options.runs));
      result.runCpuMs = runs;
      log(`CPU per run ${runs.firstRuns} ms (runs 1-10), ${runs.lastRuns} ms (the last 10 of ${runs.runs})`);
      if (before && bench.databaseUrl) {
        result.postgres = perRun(before, await postgresCounts(bench.databaseUrl), runs.runs);
        log(`PostgreSQL: ${JSON.stringify(result.postgres)}`);
      }
    }
    return result;
  } finally {
    await bench.stop();
  }
}

/**
 * Latency, on fresh servers all up at once: the windows take turns (each round in another order),
 * so that a busy spell of the machine falls on every server alike rather than on one.
 */
async function measureLatency(kinds: ServerKind[], redisUrl: string): Promise<LatencyFigures[]> {
  const benches: Bench[] = [];
  try {
    for (const kind of kinds) {
      const bench = await Bench.start(kind, redisUrl, LATENCY.pools);
      benches.push(bench);
      await bench.prepareLatency();
    }
    const windows: LatencyWindow[][] = kinds.map(() => []);
    const latencies: number[][] = kinds.map(() => []);
    for (let round = 0; round < LATENCY.windows; round += 1) {
      for (let turn = 0; turn < benches.length; turn += 1) {
        const at = (round + turn) % benches.length;
        const { window, latencies: each } = await benches[at]!.latencyWindow();
        windows[at]!.push(window);
        latencies[at]!.push(...each);
        console.error(
          `${kinds[at]!.name}: latency window ${round + 1}: p50 ${window.p50} ms, p99 ${window.p99} ms (in the server ${window.server.p50}, ${window.server.p99})`,
        );
      }
    }
    return windows.map((each, at) => ({
      ...medianOf(each),
      p99Range: [Math.min(...each.map((window) => window.p99)), Math.max(...each.map((window) => window.p99))],
      p99AllSamples: ms(percentile(ascending(latencies[at]!), 0.99)),
      server: {
        ...medianOf(each.map((window) => window.server)),
        firstWrite: medianOf(each.map((window) => window.server.firstWrite)),
        lastWrite: medianOf(each.map((window) => window.server.lastWrite)),
      },
      windows: each,
    }));
  } finally {
    await Promise.all(benches.map((bench) => bench.stop()));
  }
}

const redis = await startRedis();
/** Started for the first server on PostgreSQL. */
let postgres: TestPostgres | undefined;
/** Started for the first server on a Redis Cluster. */
let cluster: TestRedisCluster | undefined;
async function theCluster(): Promise<TestRedisCluster> {
  return (cluster ??= await startRedisCluster());
}

/** CPU time the Redis processes at `urls` have used so far, in microseconds, as each counts it (INFO cpu). */
async function redisCpuMicros(urls: string[]): Promise<number> {
  let total = 0;
  for (const url of urls) {
    const client = createClient({ url });
    await client.connect();
    const info = await client.info('cpu');
    await client.quit();
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    total += (field('used_cpu_sys') + field('used_cpu_user')) * 1e6;
  }
  return total;
}
const results: ServerResult[] = [];
const machineLoad: number[] = [];
try {
  const kinds = options.servers.split(',').map((key) => KINDS[key]!);
  if (['memory', 'throughput', 'runs'].some(measuring)) {
    for (const kind of kinds) results.push(await measureServer(kind, redis.url));
  } else {
    results.push(...kinds.map((kind) => ({ server: kind.name, eventsPerCpuSecond: {} })));
  }
  if (measuring('latency')) {
    // How busy the machine was (1-minute load average, against its cores): beside the floor's spread, whether to trust the run.
    machineLoad.push(loadavg()[0]!);
    const figures = await measureLatency(kinds, redis.url);
    figures.forEach((latency, at) => (results[at]!.latencyMs = latency));
    machineLoad.push(loadavg()[0]!);
  }
} finally {
  await Promise.all([redis.stop(), postgres?.stop(), cluster?.stop()]);
}

const find = (prefix: string) => results.find((result) => result.server.startsWith(prefix));
const floor = find('raw ws');
const redisFloor = find('Redis pub/sub + raw ws');
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
      const value = result.eventsPerCpuSecond[scenario.name] ?? NaN;
      return [
        [`${scenario.name} /floor`, ratio(value, floor?.eventsPerCpuSecond[scenario.name])],
        [`${scenario.name} /typical`, ratio(value, typical?.eventsPerCpuSecond[scenario.name])],
      ];
    }),
  ),
}));
/** The median over rounds of a window's p99 less that of `base` (a floor) in the same round (adjacent in time). */
function floorGap(latency: LatencyFigures | undefined, base: LatencyFigures | undefined): number | null {
  if (!latency || !base) return null;
  return ms(median(latency.windows.map((window, round) => window.p99 - base.windows[round]!.p99)));
}
const other = results.map((result) => ({
  server: result.server,
  'p50 ms': result.latencyMs?.p50 ?? null,
  'p99 ms': result.latencyMs?.p99 ?? null,
  'p99 ms, windows': result.latencyMs ? result.latencyMs.p99Range.join('-') : null,
  'p99 ms, all samples': result.latencyMs?.p99AllSamples ?? null,
  'p99 - floor p99 ms': floorGap(result.latencyMs, floor?.latencyMs),
  'p99 - Redis floor p99 ms': floorGap(result.latencyMs, redisFloor?.latencyMs),
  'in server p50 ms': result.latencyMs?.server.p50 ?? null,
  'in server p99 ms': result.latencyMs?.server.p99 ?? null,
  'first write p50 ms': result.latencyMs?.server.firstWrite.p50 ?? null,
  'last write p50 ms': result.latencyMs?.server.lastWrite.p50 ?? null,
  'last write p99 ms': result.latencyMs?.server.lastWrite.p99 ?? null,
  [`RSS B/conn @${options.connections}, ${options['idle-per-conversation']} per conversation`]: result.memory?.rssBytesPerConnection ?? null,
  'heap+ext B/conn': result.memory?.heapBytesPerConnection ?? null,
  'run CPU ms, first 10': result.runCpuMs?.firstRuns ?? null,
  'run CPU ms, last 10': result.runCpuMs?.lastRuns ?? null,
  'PostgreSQL commits per run': result.postgres?.commitsPerRun ?? null,
  'PostgreSQL rows written per event': result.postgres?.rowsWrittenPerEvent ?? null,
}));

if (measuring('throughput')) {
  console.log('Events delivered per server CPU-second (higher is better)');
  console.table(throughput);
  console.log('Ratios to the floor and to the typical stack, same run');
  console.table(comparison);
  const onRedis = results.filter((result) => result.redisCpuMicrosPerEvent);
  if (onRedis.length > 0) {
    console.log("Redis CPU per event delivered, µs (the Redis processes' own count, every node of a cluster)");
    console.table(onRedis.map((result) => ({ server: result.server, ...result.redisCpuMicrosPerEvent })));
  }
}
console.log(
  `Latency at ${LATENCY.perSecond} events/s to ${LATENCY.perConversation} subscribers (medians of ${LATENCY.windows} windows of ${LATENCY.events} events;` +
    ` load average ${machineLoad.map((load) => load.toFixed(1)).join(' -> ')} on ${cpus().length} cores), memory per idle subscribed connection, run cost`,
);
console.table(other);

await mkdir(new URL('./results/', import.meta.url), { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
await writeFile(
  new URL(`./results/${stamp}.json`, import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, options, scenarios: SCENARIOS, machineLoad, results, comparison, other }, null, 2)}\n`,
);
