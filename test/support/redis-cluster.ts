/**
 * A Redis Cluster of the test's own: six `redis-server --cluster-enabled yes` on free ports of
 * 127.0.0.1 (without persistence, in a temporary directory), joined by `redis-cli --cluster
 * create` as three primaries with a replica each, and ready once every node says
 * cluster_state:ok. Stopped (SIGKILL) and removed after the tests.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { findRedisServer, freePort, launch } from './redis-server.ts';

const run = promisify(execFile);

export interface TestRedisCluster {
  /** The nodes' URLs, as REDIS_CLUSTER_NODES takes them. */
  urls: string[];
  /** Each primary's URL with the keys it holds whose names start with `prefix`. */
  keysPerPrimary(prefix: string): Promise<Map<string, string[]>>;
  /** Moves the slot of `key` (with its keys) to the primary `to`, in place, as resharding does; returns where it was. */
  migrateSlotOf(key: string, to: string): Promise<string>;
  /** SIGKILL of one node (by URL): its replica takes over once the others mark it failed. */
  kill(url: string): Promise<void>;
  /**
   * SIGSTOP of one node (by URL): it keeps its connections and answers nothing, as a hung
   * process does, and its replica takes over once the others mark it failed. It stays stopped.
   */
  freeze(url: string): void;
  /** Resolves once every node still running counts `dead` failed and says cluster_state:ok: its replica took over. */
  untilFailedOver(dead: string): Promise<void>;
  stop(): Promise<void>;
}

const NODES = 6;

function nodeDir(dir: string, port: number): string {
  const path = join(dir, String(port));
  mkdirSync(path, { recursive: true });
  return path;
}

export interface TestRedisClusterOptions {
  /**
   * How long a node may not answer before the others count it failed and its replica takes
   * over (cluster-node-timeout; Redis' default is 15 s). Short only for tests that kill a node:
   * on a busy machine a short timeout fails nodes that were merely slow.
   */
  nodeTimeoutMs?: number;
}

export async function startRedisCluster(options: TestRedisClusterOptions = {}): Promise<TestRedisCluster> {
  const binary = findRedisServer();
  if (!binary) throw new Error('These tests start a Redis Cluster, which needs redis-server (and redis-cli beside it) on PATH, or REDIS_SERVER_BIN.');
  const dir = mkdtempSync(join(tmpdir(), 'agw-redis-cluster-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? undefined
          : new Promise<void>((resolve) => {
              child.once('exit', () => resolve());
              child.kill('SIGKILL');
            }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < NODES; i += 1) {
      // The cluster bus gets a port of its own: the default (port + 10000) may be past 65535.
      const [port, busPort] = [await freePort(), await freePort()];
      ports.push(port);
      children.push(
        await launch(binary, [
          '--port',
          String(port),
          '--cluster-port',
          String(busPort),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          // A directory per node: a replica's full sync writes its RDB file there.
          '--cluster-config-file',
          join(nodeDir(dir, port), 'nodes.conf'),
          '--dir',
          nodeDir(dir, port),
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
          // A replica's first sync at once: by default its primary waits 5 s for more replicas
          // to share the transfer, and the cluster is not ready until every replica has synced.
          '--repl-diskless-sync-delay',
          '0',
          ...(options.nodeTimeoutMs === undefined ? [] : ['--cluster-node-timeout', String(options.nodeTimeoutMs)]),
        ]),
      );
    }
    const cli = join(dirname(binary), 'redis-cli');
    await run(cli, ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes']);
    const urls = ports.map((port) => `redis://127.0.0.1:${port}`);
    await Promise.all(urls.map((url) => untilClusterOk(url)));
    const kill = async (url: string) => {
      const child = children[urls.indexOf(url)];
      if (!child) throw new Error(`${url} is no node of this cluster`);
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    };
    const frozen = new Set<string>();
    const freeze = (url: string) => {
      const child = children[urls.indexOf(url)];
      if (!child) throw new Error(`${url} is no node of this cluster`);
      child.kill('SIGSTOP');
      frozen.add(url);
    };
    const alive = () => urls.filter((url, i) => children[i]!.exitCode === null && children[i]!.signalCode === null && !frozen.has(url));
    return {
      urls,
      keysPerPrimary: (prefix) => keysPerPrimary(alive(), prefix),
      migrateSlotOf: (key, to) => migrateSlotOf(alive(), key, to),
      kill,
      freeze,
      untilFailedOver: async (dead) => void (await Promise.all(alive().map((url) => untilClusterOk(url, new URL(dead).host)))),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Asks the node until it says cluster_state:ok and, for a replica, that its link to its primary
 * is up (a replica that never synced would not take over); with `failed` (host:port), once it
 * counts that node failed too (until then a dead primary's slots still look served). The
 * cluster has no event to await.
 */
async function untilClusterOk(url: string, failed?: string, timeoutMs = 30_000): Promise<void> {
  const client = createClient({ url });
  await client.connect();
  const ready = async () => {
    if (failed !== undefined) {
      const line = (await client.sendCommand<string>(['CLUSTER', 'NODES'])).split('\n').find((each) => each.includes(` ${failed}@`));
      if (!line || !/\bfail\b(?!\?)/.test(line.split(' ')[2] ?? '')) return false;
    }
    if (!/^cluster_state:ok\b/m.test(await client.sendCommand<string>(['CLUSTER', 'INFO']))) return false;
    const replication = await client.sendCommand<string>(['INFO', 'replication']);
    return /^role:master\b/m.test(replication) || /^master_link_status:up\b/m.test(replication);
  };
  try {
    const deadline = Date.now() + timeoutMs;
    while (!(await ready())) {
      if (Date.now() > deadline) throw new Error(`${url} never said cluster_state:ok`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.destroy();
  }
}

async function keysPerPrimary(urls: readonly string[], prefix: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const url of urls) {
    const client = createClient({ url });
    await client.connect();
    try {
      if (!/^role:master\b/m.test(await client.sendCommand<string>(['INFO', 'replication']))) continue;
      out.set(url, await client.sendCommand<string[]>(['KEYS', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`]));
    } finally {
      client.destroy();
    }
  }
  return out;
}

/** CLUSTER SETSLOT's steps for one slot, from its owner to the primary `to`, keys and all. */
async function migrateSlotOf(urls: readonly string[], key: string, to: string): Promise<string> {
  const clients = new Map<string, ReturnType<typeof createClient>>();
  for (const url of urls) {
    const client = createClient({ url });
    await client.connect();
    clients.set(url, client);
  }
  try {
    const target = clients.get(to)!;
    const slot = Number(await target.sendCommand(['CLUSTER', 'KEYSLOT', key]));
    const ids = new Map<string, string>();
    for (const [url, client] of clients) ids.set(url, String(await client.sendCommand(['CLUSTER', 'MYID'])));
    let from: string | undefined;
    for (const [url, client] of clients) {
      const owner = (await client.sendCommand<[number, number, [string, number, string]][]>(['CLUSTER', 'SLOTS'])).find(
        ([start, end]) => start <= slot && slot <= end,
      );
      if (owner && owner[2][2] === ids.get(url)) from = url;
    }
    if (!from) throw new Error(`no primary owns slot ${slot}`);
    if (from === to) throw new Error(`${to} owns slot ${slot} already`);
    const source = clients.get(from)!;
    const { port } = new URL(to);
    await target.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', ids.get(from)!]);
    await source.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', ids.get(to)!]);
    for (;;) {
      const keys = await source.sendCommand<string[]>(['CLUSTER', 'GETKEYSINSLOT', String(slot), '100']);
      if (keys.length === 0) break;
      await source.sendCommand(['MIGRATE', '127.0.0.1', port, '', '0', '5000', 'KEYS', ...keys]);
    }
    for (const client of [target, source, ...clients.values()])
      await client.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'NODE', ids.get(to)!]).catch(() => undefined);
    return from;
  } finally {
    for (const client of clients.values()) client.destroy();
  }
}
