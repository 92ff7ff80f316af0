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
 * watched (plus delivery), each with what it counts: write syscalls (/proc/<pid>/io), Redis
 * commands (INFO commandstats) and bytes allocated on the server's V8 heap, per run and per event.
 *
 * The servers run side by side and take turns, round by round (`--rounds` for one conversation;
 * one round per run of each of the many conversations, `--runs-each`), so that the machine's
 * drift during the bench moves every server alike; the table gives each ratio's range over the
 * rounds beside it.
 *
 * Each server is measured warm, as a server that has been up for a while is: `--warm-up` runs
 * in its one conversation and `--warm-up-each` in each of the many before the rounds. V8 keeps
 * optimizing a path for hundreds of runs: after 5 runs ours on memory delivered 12,000 events
 * per CPU-second at one conversation, after 1,000 about 24,000 (the others gain too, less).
 *
 * Usage: npx tsx bench/runs.ts [-- --tokens 50 --runs 300 --rounds 10 --warm-up 1000
 *   --conversations 500 --runs-each 8 --warm-up-each 4 --servers floor,typical,memory,redis
 *   --profile <dir>]
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
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
    runs: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '10' },
    'warm-up': { type: 'string', default: '1000' },
    conversations: { type: 'string', default: '500' },
    'runs-each': { type: 'string', default: '8' },
    'warm-up-each': { type: 'string', default: '4' },
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

/** What the OS counts for a process: CPU seconds (all its threads) and write syscalls. */
async function processCounts(pid: number): Promise<{ cpu: number; writes: number }> {
  // Each thread's time on a CPU in nanoseconds (schedstat): /proc/<pid>/stat counts in 10 ms
  // ticks, too coarse for a round of a few hundred milliseconds.
  let nanoseconds = 0;
  for (const thread of await readdir(`/proc/${pid}/task`)) {
    const schedstat = await readFile(`/proc/${pid}/task/${thread}/schedstat`, 'utf8').catch(() => '0');
    nanoseconds += Number(schedstat.split(' ')[0]);
  }
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  return { cpu: nanoseconds / 1e9, writes: Number(/syscw: (\d+)/.exec(io)?.[1]) };
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

  /** CPU seconds, write syscalls, Redis commands, (ours) Redis round trips and heap bytes allocated, spent by `work`. */
  async measure(work: () => Promise<void>, redis: ReturnType<typeof createClient>): Promise<Measured> {
    const pid = this.child.process.pid!;
    const trips = () => (this.kind.ours ? roundTrips(this.httpUrl) : Promise.resolve(Number.NaN));
    const [before, commandsBefore, tripsBefore] = await Promise.all([
      processCounts(pid),
      redisCommands(redis),
      trips(),
      this.child.request('countAllocations'),
    ]);
    await work();
    const [after, commandsAfter, tripsAfter, allocated] = await Promise.all([
      processCounts(pid),
      redisCommands(redis),
      trips(),
      this.child.request<number>('allocated'),
    ]);
    return {
      cpu: after.cpu - before.cpu,
      writes: after.writes - before.writes,
      redisCommands: commandsAfter - commandsBefore,
      roundTrips: tripsAfter - tripsBefore,
      allocated,
    };
  }
}

interface Measured {
  cpu: number;
  writes: number;
  redisCommands: number;
  roundTrips: number;
  /** Bytes allocated on the server's V8 heap. */
  allocated: number;
}

const NOTHING: Measured = { cpu: 0, writes: 0, redisCommands: 0, roundTrips: 0, allocated: 0 };
const plus = (a: Measured, b: Measured): Measured => ({
  cpu: a.cpu + b.cpu,
  writes: a.writes + b.writes,
  redisCommands: a.redisCommands + b.redisCommands,
  roundTrips: a.roundTrips + b.roundTrips,
  allocated: a.allocated + b.allocated,
});

interface Result {
  server: string;
  /** Events delivered per server CPU-second, over all rounds. */
  oneConversation: number;
  manyConversations: number;
  /** The same, round by round: how much the machine moved while it was measured. */
  oneConversationRounds: number[];
  manyConversationsRounds: number[];
  /** Ours: where a run's CPU goes, and what it counts. */
  split?: Record<string, number>;
}

const round = (value: number, digits = 0) => Number(value.toFixed(digits));

/** The servers in another order each round, so that none is always measured first or last. */
const turn = <T>(items: T[], index: number) => items.map((_, at) => items[(at + index) % items.length]!);

/**
 * One phase, the servers taking turns: each round, each server runs its share of the runs while
 * the others wait (an idle server costs nothing), so that a machine whose speed drifts during
 * the bench (a shared VM's does) moves every server's figure alike and the ratios hold.
 */
async function phase(
  servers: Server[],
  conversationsOf: (server: Server) => string[],
  { runsPerRound, rounds, warmUpRuns }: { runsPerRound: number; rounds: number; warmUpRuns: number },
  redis: ReturnType<typeof createClient>,
): Promise<{ totals: Map<Server, Measured>; rates: Map<Server, number[]> }> {
  const watched = new Map<Server, (id: string) => Child>();
  for (const server of servers) {
    const poolOf = await server.watch(conversationsOf(server));
    await server.watchedRuns(conversationsOf(server), warmUpRuns, TOKENS, poolOf); // warms up the whole path
    watched.set(server, poolOf);
  }
  const totals = new Map(servers.map((server) => [server, NOTHING]));
  const rates = new Map(servers.map((server) => [server, [] as number[]]));
  for (let index = 0; index < rounds; index += 1) {
    for (const server of turn(servers, index)) {
      const ids = conversationsOf(server);
      await Promise.all(server.pools.map((pool) => pool.request('reset', {})));
      const measured = await server.measure(() => server.watchedRuns(ids, runsPerRound, TOKENS, watched.get(server)!), redis);
      totals.set(server, plus(totals.get(server)!, measured));
      rates.get(server)!.push(Math.round((ids.length * runsPerRound * PER_RUN) / measured.cpu));
    }
  }
  for (const server of servers) await server.unwatch();
  return { totals, rates };
}

/** Ours: the same runs with no one watching, without tokens (the send and the run's lifecycle) and with them. */
async function split(server: Server, single: Measured, runs: number, redis: ReturnType<typeof createClient>): Promise<Record<string, number>> {
  // All in (the send, the run and its delivery), the same way for every server.
  const heapPerRun = round(single.allocated / runs / 1024, 1);
  if (!server.kind.ours) {
    return {
      'Redis commands per event delivered': round(single.redisCommands / (runs * PER_RUN), 2),
      'write syscalls per event delivered': round(single.writes / (runs * PER_RUN), 2),
      'heap KB allocated per run, all in': heapPerRun,
    };
  }
  const bare = await server.measure(() => server.unwatchedRuns(`bare-${randomUUID()}`, runs, 0), redis);
  const unwatched = await server.measure(() => server.unwatchedRuns(`unwatched-${randomUUID()}`, runs, TOKENS), redis);
  const perRun = (value: number) => value / runs;
  return {
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
    'heap KB allocated per run, all in': heapPerRun,
    'heap KB allocated per run (send + lifecycle)': round(perRun(bare.allocated) / 1024, 1),
    'heap bytes allocated per token appended': round((unwatched.allocated - bare.allocated) / (runs * TOKENS)),
    'heap bytes allocated per event delivered': round((single.allocated - unwatched.allocated) / (runs * PER_RUN)),
  };
}

async function measureAll(kinds: Kind[], redisUrl: string, redis: ReturnType<typeof createClient>): Promise<Result[]> {
  const servers: Server[] = [];
  try {
    for (const kind of kinds) servers.push(await Server.start(kind, redisUrl));
    const rounds = Number(options.rounds);
    const runsPerRound = Math.max(1, Math.round(Number(options.runs) / rounds));
    const one = new Map(servers.map((server) => [server, [`one-${randomUUID()}`]]));
    const single = await phase(servers, (server) => one.get(server)!, { runsPerRound, rounds, warmUpRuns: Number(options['warm-up']) }, redis);
    console.error(`1 conversation x 1 subscriber: ${rounds} rounds of ${runsPerRound} runs per server`);
    const many = new Map(servers.map((server) => [server, Array.from({ length: Number(options.conversations) }, (_, n) => `many-${n}-${randomUUID()}`)]));
    const eachRounds = Number(options['runs-each']);
    const spread = await phase(
      servers,
      (server) => many.get(server)!,
      { runsPerRound: 1, rounds: eachRounds, warmUpRuns: Number(options['warm-up-each']) },
      redis,
    );
    console.error(`${options.conversations} conversations x 1 subscriber: ${eachRounds} rounds of one run per conversation`);
    const results: Result[] = [];
    for (const server of servers) {
      const oneTotal = single.totals.get(server)!;
      const manyTotal = spread.totals.get(server)!;
      results.push({
        server: server.kind.name,
        oneConversation: Math.round((runsPerRound * rounds * PER_RUN) / oneTotal.cpu),
        manyConversations: Math.round((Number(options.conversations) * eachRounds * PER_RUN) / manyTotal.cpu),
        oneConversationRounds: single.rates.get(server)!,
        manyConversationsRounds: spread.rates.get(server)!,
        split: await split(server, oneTotal, runsPerRound * rounds, redis),
      });
      console.error(`${server.kind.name}: ${JSON.stringify(results.at(-1))}`);
    }
    return results;
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

const redisServer = await startRedis();
const redis = createClient({ url: redisServer.url });
await redis.connect();
let results: Result[];
const load = [loadavg()[0]!];
try {
  results = await measureAll(
    options.servers.split(',').map((key) => KINDS[key]!),
    redisServer.url,
    redis,
  );
} finally {
  load.push(loadavg()[0]!);
  await redis.quit();
  await redisServer.stop();
}

const floor = results.find((result) => result.server.startsWith('raw ws'));
const typical = results.find((result) => result.server.startsWith('yoga'));
const ratio = (value: number, base: number | undefined) => (base ? round(value / base, 2) : null);
/** The lowest and highest of a server's round-by-round ratios to a baseline's same rounds. */
const range = (values: number[], base: number[] | undefined) => {
  if (!base) return null;
  const ratios = values.map((value, index) => value / base[index]!);
  return `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`;
};
const table = results.map((result) => ({
  server: result.server,
  '1 conv x 1, events/CPU-s': result.oneConversation,
  '/typical': ratio(result.oneConversation, typical?.oneConversation),
  '/typical, rounds': range(result.oneConversationRounds, typical?.oneConversationRounds),
  '/floor': ratio(result.oneConversation, floor?.oneConversation),
  [`${options.conversations} convs x 1, events/CPU-s`]: result.manyConversations,
  '/typical ': ratio(result.manyConversations, typical?.manyConversations),
  '/typical, rounds ': range(result.manyConversationsRounds, typical?.manyConversationsRounds),
  '/floor ': ratio(result.manyConversations, floor?.manyConversations),
}));
console.log(
  `Runs of ${TOKENS} tokens (${PER_RUN} events) sent through each server's send, one watcher per conversation, the servers taking turns; load average ${load.map((each) => each.toFixed(1)).join(' -> ')}`,
);
console.table(table);
console.log('Where the CPU goes, and what it counts');
console.table(Object.fromEntries(results.map((result) => [result.server, result.split ?? {}])));
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
await writeFile(
  new URL(`./results/runs-${stamp}.json`, import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, options, load, results, table }, null, 2)}\n`,
);
