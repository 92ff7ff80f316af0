/**
 * The stores of record side by side, in one process and one run so that their ratios hold on a
 * busy machine: memory (the embedded default), PostgreSQL on PGlite in a data folder
 * (DATABASE_URL=file:///…), and PostgreSQL on a server of its own (test/support/postgres-server.ts,
 * which runs it with fsync off), each of the last two with the live layer in this process, as one
 * gateway composes them.
 *
 * Measured per store, in rounds that take turns (the figures are the medians over the rounds):
 * - sends per second, one at a time and 16 in flight: each send a new conversation with an
 *   idempotency key, as the Experience plane commits it (stored, then leased and announced);
 * - this process's CPU time per send (process.cpuUsage): for the PostgreSQL server that leaves out
 *   the server's own processes, for PGlite it is all of it;
 * - a 200-token batch appended in one appendBatch (a streamed reply's batch), and 200 appended one
 *   by one, in milliseconds;
 * - for PGlite, how long opening a new data folder (its initdb) and reopening it take.
 *
 * Usage: npx tsx bench/record-stores.ts [--sends 400 --rounds 3 --batches 15 --stores memory,pglite,postgres --out results.json]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { composeBackend } from '../src/store/compose.ts';
import type { Backend } from '../src/store/interfaces.ts';
import { createMemoryBackend, createMemoryLiveLayer } from '../src/store/memory/index.ts';
import { createPostgresRecordStore } from '../src/store/postgres/index.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, helloRun, helloSend, token } from '../test/contract/worlds.ts';
import { startPostgres, type TestPostgres } from '../test/support/postgres-server.ts';

const { values: options } = parseArgs({
  options: {
    sends: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '3' },
    batches: { type: 'string', default: '15' },
    stores: { type: 'string', default: 'memory,pglite,postgres' },
    out: { type: 'string' },
  },
});
const SENDS = Number(options.sends);
const ROUNDS = Number(options.rounds);
const BATCHES = Number(options.batches);
const IN_FLIGHT = 16;

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Store {
  name: string;
  backend: Backend;
  close(): Promise<void>;
}

const folders: string[] = [];
let postgres: TestPostgres | undefined;
const startup: Record<string, number> = {};

async function open(name: string): Promise<Store> {
  const settings = { retention: DEFAULT_RETENTION, idempotencyTtlMs: BACKEND_SETTINGS.idempotencyTtlMs };
  if (name === 'memory') {
    const backend = createMemoryBackend(DEFAULT_RETENTION, BACKEND_SETTINGS);
    return { name, backend, close: () => backend.close() };
  }
  if (name === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'agw-bench-pglite-'));
    folders.push(dir);
    const url = pathToFileURL(dir).href;
    let started = performance.now();
    await (await createPostgresRecordStore(url, settings)).close();
    startup['newFolderMs'] = performance.now() - started;
    started = performance.now();
    const record = await createPostgresRecordStore(url, settings);
    startup['reopenMs'] = performance.now() - started;
    const backend = composeBackend(record, createMemoryLiveLayer());
    return { name, backend, close: () => backend.close() };
  }
  if (name === 'postgres') {
    postgres ??= await startPostgres();
    const record = await createPostgresRecordStore(await postgres.createDatabase(), settings);
    const backend = composeBackend(record, createMemoryLiveLayer());
    return { name, backend, close: () => backend.close() };
  }
  throw new Error(`no store ${name}`);
}

/** A send of a new conversation, keyed, as the Experience plane hands it to the store. */
function newSend() {
  const run = helloRun(randomUUID());
  return { ...helloSend(run, { holder: 'bench', ttlMs: 60_000 }), idempotencyKey: `send:${randomUUID()}` };
}

async function commit(backend: Backend) {
  const outcome = await backend.sends.commit(newSend());
  if (outcome.outcome !== 'stored') throw new Error(`a send was ${outcome.outcome}`);
}

/** `count` sends, `inFlight` at a time: sends per second and CPU milliseconds per send. */
async function sends(backend: Backend, count: number, inFlight: number) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        next += 1;
        await commit(backend);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { perSecond: count / seconds, cpuMsPerSend: (used.user + used.system) / 1000 / count };
}

/** Milliseconds of a 200-token appendBatch (median and worst of `times`), and of 200 appends one by one. */
async function appends(backend: Backend, times: number) {
  const batched: number[] = [];
  for (let i = 0; i < times; i += 1) {
    const conversationId = randomUUID();
    const batch = Array.from({ length: 200 }, (_, n) => token(conversationId, `t${n} `));
    const started = performance.now();
    await backend.events.appendBatch(batch);
    batched.push(performance.now() - started);
  }
  const conversationId = randomUUID();
  const started = performance.now();
  for (let n = 0; n < 200; n += 1) await backend.events.append(token(conversationId, `t${n} `));
  const oneByOne = performance.now() - started;
  return { batchMs: median(batched), batchWorstMs: Math.max(...batched), oneByOneMs: oneByOne };
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

type Figures = Record<string, number>;

const names = options.stores.split(',');
const stores: Store[] = [];
try {
  for (const name of names) {
    log(`opening ${name}…`);
    stores.push(await open(name));
  }
  // Warm up: JIT, caches, the first statements' plans.
  for (const store of stores) for (let i = 0; i < 50; i += 1) await commit(store.backend);

  const rounds = new Map<string, Figures[]>(names.map((name) => [name, []]));
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const store of stores) {
      const sequential = await sends(store.backend, SENDS, 1);
      const concurrent = await sends(store.backend, SENDS, IN_FLIGHT);
      const appended = await appends(store.backend, BATCHES);
      const figures: Figures = {
        sendsPerSecond: sequential.perSecond,
        cpuMsPerSend: sequential.cpuMsPerSend,
        [`sendsPerSecond${IN_FLIGHT}InFlight`]: concurrent.perSecond,
        [`cpuMsPerSend${IN_FLIGHT}InFlight`]: concurrent.cpuMsPerSend,
        ...appended,
      };
      rounds.get(store.name)!.push(figures);
      log(`round ${round} ${store.name}: ${JSON.stringify(round2(figures))}`);
    }
  }

  const results = Object.fromEntries(
    [...rounds].map(([name, each]) => [
      name,
      round2(Object.fromEntries(Object.keys(each[0]!).map((key) => [key, median(each.map((figures) => figures[key]!))]))),
    ]),
  );
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadavg: loadavg().map((load) => Math.round(load * 100) / 100),
    sends: SENDS,
    rounds: ROUNDS,
    medians: results,
    pgliteStartup: round2(startup),
  };
  console.log(JSON.stringify(report, null, 2));
  if (options.out) writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await Promise.all(stores.map((store) => store.close()));
  await postgres?.stop();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
}

function round2(figures: Figures): Figures {
  return Object.fromEntries(Object.entries(figures).map(([key, value]) => [key, Math.round(value * 100) / 100]));
}
