/**
 * The one-watcher case as users meet it: one person watching their own conversation while an agent
 * answers, one run at a time, every run sent through the server's real send (ours: the
 * sendAgentMessage mutation over HTTP; the typical stack: a yoga mutation; the floor: a bare POST)
 * and streamed back to the conversation's one subscriber as a model's reply comes in, one delta per
 * macrotask. In one run, so that the ratios hold on a busy machine:
 *   1 conversation (runs one after another) and 500 conversations (each with its own runs, all at
 *   once), events delivered per server CPU-second (the OS's accounting of the server process),
 *   for the floor, the typical stack and ours on memory and on Redis;
 * and for ours, where a run's CPU goes, from three phases of the same runs: unwatched with no
 * tokens (the send and the run's lifecycle), unwatched with tokens (plus the agent's appends) and
 * watched (plus delivery), each with what it counts: write syscalls (/proc/<pid>/io) and Redis
 * commands (INFO commandstats) per run and per event.
 *
 * Usage: npx tsx bench/runs.ts [-- --tokens 50 --runs 100 --conversations 500 --runs-each 2
 *   --servers floor,typical,memory,redis --profile <dir>]
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createClient } from 'redis';
import { startRedis } from '../test/support/redis-server.ts';
import { tokenFor } from '../test/support/clients.ts';
import { TEST_SECRET } from '../test/support/server.ts';
import { eventsPerRun } from './event.ts';
import { Child } from './ipc.ts';

const { values: options } = parseArgs({
  options: {
    tokens: { type: 'string', default: '50' },
    runs: { type: 'string', default: '100' },
    conversations: { type: 'string', default: '500' },
    'runs-each': { type: 'string', default: '2' },
    servers: { type: 'string', default: 'floor,typical,memory,redis' },
    profile: { type: 'string' },
  },
});
const TOKENS = Number(options.tokens);
const PER_RUN = eventsPerRun(TOKENS);
const POOLS = 4;

interface Kind {
  name: string;
  script: string;
  protocol: 'graphql-ws' | 'floor';
  redis: boolean;
  ours: boolean;
}
const KINDS: Record<string, Kind> = {
  floor: { name: 'raw ws broadcast (floor)', script: './servers/floor.ts', protocol: 'floor', redis: false, ours: false },
  typical: { name: 'yoga + graphql-ws + Redis pub/sub', script: './servers/typical.ts', protocol: 'graphql-ws', redis: true, ours: false },
  memory: { name: 'ours, memory', script: './servers/ours.ts', protocol: 'graphql-ws', redis: false, ours: true },
  redis: { name: 'ours, Redis', script: './servers/ours.ts', protocol: 'graphql-ws', redis: true, ours: true },
};

const SEND = `mutation ($input: SendAgentMessageInput!) { sendAgentMessage(input: $input) { run { id } } }`;
const RUN_STATUS = `query ($id: ID!) { run(id: $id) { status } }`;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the OS counts for a process: CPU seconds and write syscalls. */
async function processCounts(pid: number): Promise<{ cpu: number; writes: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  return { cpu: (Number(fields[11]) + Number(fields[12])) / 100, writes: Number(/syscw: (\d+)/.exec(io)?.[1]) };
}

/** Commands our gateway has sent to Redis so far, each a round trip (a script counts once, unlike in INFO commandstats). */
async function roundTrips(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return Number(/^agent_gateway_redis_commands_total (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

/** Commands Redis has executed so far, those of scripts included (INFO itself left out). */
async function redisCommands(redis: ReturnType<typeof createClient>): Promise<number> {
  const info = await redis.info('commandstats');
  return [...info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].filter(([, name]) => name !== 'info').reduce((sum, [, , calls]) => sum + Number(calls), 0);
}

class Server {
  private constructor(
    readonly kind: Kind,
    readonly child: Child,
    readonly pools: Child[],
    readonly wsUrl: string,
    readonly token: string,
  ) {}

  static async start(kind: Kind, redisUrl: string): Promise<Server> {
    const env: Record<string, string> = { BENCH_SECRET: TEST_SECRET };
    if (kind.redis) env['REDIS_URL'] = redisUrl;
    if (kind.ours) env['REDIS_KEY_PREFIX'] = `bench-${randomUUID()}:`;
    const child = await Child.start(kind.script, env, options.profile);
    const pools = await Promise.all(Array.from({ length: POOLS }, () => Child.start('./subscribers.ts')));
    return new Server(kind, child, pools, await child.request<string>('url'), await tokenFor('bench'));
  }

  get httpUrl(): string {
    return this.wsUrl.replace(/^ws/, 'http').replace(/\/graphql$/, '');
  }

  stop() {
    return Promise.all([this.child, ...this.pools].map((child) => child.stop()));
  }

  /** One send, through the server's own way of taking a message; ours answers with the run's id. */
  async send(conversationId: string, tokens: number): Promise<string | null> {
    const { kind } = this;
    if (kind.protocol === 'floor') {
      await (await fetch(`${this.httpUrl}/run`, { method: 'POST', body: JSON.stringify({ conversationId, tokens }) })).text();
      return null;
    }
    const query = kind.ours ? SEND : 'mutation ($c: ID!, $t: Int!) { run(conversationId: $c, tokens: $t) }';
    const variables = kind.ours
      ? { input: { text: `tokens ${tokens}`, conversationId, target: { kind: 'LIAISON', agentId: 'bench.tokens' } } }
      : { c: conversationId, t: tokens };
    const response = await fetch(`${this.httpUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: { sendAgentMessage?: { run: { id: string } } }; errors?: unknown };
    if (body.errors) throw new Error(`${kind.name}: the send failed: ${JSON.stringify(body.errors)}`);
    return body.data?.sendAgentMessage?.run.id ?? null;
  }

  /** Opens one subscriber per conversation across the pools and waits until each one hears events. */
  async watch(conversationIds: string[]): Promise<(conversationId: string) => Child> {
    await this.child.request('prepare', { conversationIds });
    const poolOf = (conversationId: string) => this.pools[conversationIds.indexOf(conversationId) % this.pools.length]!;
    await Promise.all(
      this.pools.map((pool, index) =>
        pool.request('open', {
          url: this.wsUrl,
          protocol: this.kind.protocol,
          token: this.token,
          conversationIds: conversationIds.filter((_, at) => at % this.pools.length === index),
        }),
      ),
    );
    for (let attempt = 0; ; attempt += 1) {
      await this.child.request('publish', { conversationIds, count: 1 });
      await pause(100);
      const listening = (await Promise.all(this.pools.map((pool) => pool.request<number>('listening')))).reduce((a, b) => a + b, 0);
      if (listening === conversationIds.length) break;
      if (attempt > 300) throw new Error(`${this.kind.name}: only ${listening} of ${conversationIds.length} subscribers hear events`);
    }
    await pause(300);
    await Promise.all(this.pools.map((pool) => pool.request('reset', {})));
    return poolOf;
  }

  unwatch() {
    return Promise.all(this.pools.map((pool) => pool.request('close')));
  }

  /** `runs` runs in each conversation, one after another, each sent once its predecessor's events all arrived. */
  async watchedRuns(conversationIds: string[], runs: number, tokens: number, poolOf: (id: string) => Child): Promise<void> {
    await Promise.all(
      conversationIds.map(async (conversationId) => {
        for (let run = 1; run <= runs; run += 1) {
          await this.send(conversationId, tokens);
          await poolOf(conversationId).request('untilConversation', { conversationId, count: run * eventsPerRun(tokens) });
        }
      }),
    );
  }

  /** Ours only: `runs` runs queued at once in one conversation nobody watches, waited for by their last run's status. */
  async unwatchedRuns(conversationId: string, runs: number, tokens: number): Promise<void> {
    let last: string | null = null;
    for (let run = 0; run < runs; run += 1) last = await this.send(conversationId, tokens);
    for (;;) {
      const response = await fetch(`${this.httpUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query: RUN_STATUS, variables: { id: last } }),
      });
      const status = ((await response.json()) as { data: { run: { status: string } } }).data.run.status;
      if (status === 'COMPLETED') return;
      if (status !== 'QUEUED' && status !== 'RUNNING') throw new Error(`a bench run ended ${status}`);
      await pause(50);
    }
  }

  /** CPU seconds, write syscalls, Redis commands and (ours) Redis round trips spent by `work`. */
  async measure(work: () => Promise<void>, redis: ReturnType<typeof createClient>) {
    const pid = this.child.process.pid!;
    const trips = () => (this.kind.ours ? roundTrips(this.httpUrl) : Promise.resolve(Number.NaN));
    const [before, commandsBefore, tripsBefore] = await Promise.all([processCounts(pid), redisCommands(redis), trips()]);
    await work();
    const [after, commandsAfter, tripsAfter] = await Promise.all([processCounts(pid), redisCommands(redis), trips()]);
    return {
      cpu: after.cpu - before.cpu,
      writes: after.writes - before.writes,
      redisCommands: commandsAfter - commandsBefore,
      roundTrips: tripsAfter - tripsBefore,
    };
  }
}

interface Result {
  server: string;
  /** Events delivered per server CPU-second. */
  oneConversation: number;
  manyConversations: number;
  /** Ours: where a run's CPU goes, and what it counts. */
  split?: Record<string, number>;
}

const round = (value: number, digits = 0) => Number(value.toFixed(digits));

async function measureKind(kind: Kind, redisUrl: string, redis: ReturnType<typeof createClient>): Promise<Result> {
  const server = await Server.start(kind, redisUrl);
  const log = (what: string) => console.error(`${kind.name}: ${what}`);
  try {
    const runs = Number(options.runs);
    const one = [`one-${randomUUID()}`];
    let poolOf = await server.watch(one);
    await server.watchedRuns(one, 5, TOKENS, poolOf); // warm up the whole path
    await Promise.all(server.pools.map((pool) => pool.request('reset', {})));
    const single = await server.measure(() => server.watchedRuns(one, runs, TOKENS, poolOf), redis);
    await server.unwatch();
    const oneConversation = Math.round((runs * PER_RUN) / single.cpu);
    log(`1 conversation x 1 subscriber: ${oneConversation} events per CPU-second`);

    const many = Array.from({ length: Number(options.conversations) }, (_, n) => `many-${n}-${randomUUID()}`);
    poolOf = await server.watch(many);
    const each = Number(options['runs-each']);
    const spread = await server.measure(() => server.watchedRuns(many, each, TOKENS, poolOf), redis);
    await server.unwatch();
    const manyConversations = Math.round((many.length * each * PER_RUN) / spread.cpu);
    log(`${many.length} conversations x 1 subscriber: ${manyConversations} events per CPU-second`);

    const result: Result = { server: kind.name, oneConversation, manyConversations };
    if (kind.ours) {
      // The same runs with no one watching: without tokens (the send and the run's lifecycle), then with them.
      const bare = await server.measure(() => server.unwatchedRuns(`bare-${randomUUID()}`, runs, 0), redis);
      const unwatched = await server.measure(() => server.unwatchedRuns(`unwatched-${randomUUID()}`, runs, TOKENS), redis);
      const perRun = (value: number) => value / runs;
      result.split = {
        'send + lifecycle, ms per run': round(perRun(bare.cpu) * 1000, 3),
        'agent appends, ms per token': round(((unwatched.cpu - bare.cpu) / (runs * TOKENS)) * 1000, 4),
        'delivery, ms per event': round(((single.cpu - unwatched.cpu) / (runs * PER_RUN)) * 1000, 4),
        'Redis commands per run (send + lifecycle)': round(perRun(bare.redisCommands), 1),
        'Redis commands per token appended': round((unwatched.redisCommands - bare.redisCommands) / (runs * TOKENS), 2),
        // What the gateway sent (its polling of the last run's status included): each a round trip.
        'Redis round trips per run (send + lifecycle)': round(perRun(bare.roundTrips), 1),
        'Redis round trips per token appended': round((unwatched.roundTrips - bare.roundTrips) / (runs * TOKENS), 3),
        'Redis commands per event delivered': round((single.redisCommands - unwatched.redisCommands) / (runs * PER_RUN), 2),
        'write syscalls per event delivered': round((single.writes - unwatched.writes) / (runs * PER_RUN), 2),
        'write syscalls per run, unwatched': round(perRun(unwatched.writes), 1),
      };
      log(JSON.stringify(result.split));
    } else {
      result.split = {
        'Redis commands per event delivered': round(single.redisCommands / (runs * PER_RUN), 2),
        'write syscalls per event delivered': round(single.writes / (runs * PER_RUN), 2),
      };
    }
    return result;
  } finally {
    await server.stop();
  }
}

const redisServer = await startRedis();
const redis = createClient({ url: redisServer.url });
await redis.connect();
const results: Result[] = [];
const load = [loadavg()[0]!];
try {
  for (const key of options.servers.split(',')) results.push(await measureKind(KINDS[key]!, redisServer.url, redis));
} finally {
  load.push(loadavg()[0]!);
  await redis.quit();
  await redisServer.stop();
}

const floor = results.find((result) => result.server.startsWith('raw ws'));
const typical = results.find((result) => result.server.startsWith('yoga'));
const ratio = (value: number, base: number | undefined) => (base ? round(value / base, 2) : null);
const table = results.map((result) => ({
  server: result.server,
  '1 conv x 1, events/CPU-s': result.oneConversation,
  '/typical': ratio(result.oneConversation, typical?.oneConversation),
  '/floor': ratio(result.oneConversation, floor?.oneConversation),
  [`${options.conversations} convs x 1, events/CPU-s`]: result.manyConversations,
  '/typical ': ratio(result.manyConversations, typical?.manyConversations),
  '/floor ': ratio(result.manyConversations, floor?.manyConversations),
}));
console.log(
  `Runs of ${TOKENS} tokens (${PER_RUN} events) sent through each server's send, one watcher per conversation; load average ${load.map((each) => each.toFixed(1)).join(' -> ')}`,
);
console.table(table);
console.log('Where the CPU goes, and what it counts');
console.table(Object.fromEntries(results.map((result) => [result.server, result.split ?? {}])));
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
await writeFile(
  new URL(`./results/runs-${stamp}.json`, import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, options, load, results, table }, null, 2)}\n`,
);
