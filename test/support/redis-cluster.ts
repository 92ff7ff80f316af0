/**
 * A Redis Cluster of the test's own: six `redis-server --cluster-enabled yes` on free ports of
 * 127.0.0.1 (without persistence, in a temporary directory), joined by `redis-cli --cluster
 * create` as three primaries with a replica each, and ready once every node says
 * cluster_state:ok. Stopped (SIGKILL) and removed after the tests.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  stop(): Promise<void>;
}

const NODES = 6;

export async function startRedisCluster(): Promise<TestRedisCluster> {
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
          '--port', String(port),
          '--cluster-port', String(busPort),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--dir', dir,
          '--save', '',
          '--appendonly', 'no',
          '--daemonize', 'no',
        ]),
      );
    }
    const cli = join(dirname(binary), 'redis-cli');
    await run(cli, ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes']);
    const urls = ports.map((port) => `redis://127.0.0.1:${port}`);
    await Promise.all(urls.map((url) => untilClusterOk(url)));
    return { urls, keysPerPrimary: (prefix) => keysPerPrimary(urls, prefix), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Asks the node until it says cluster_state:ok (the cluster has no event to await for it). */
async function untilClusterOk(url: string, timeoutMs = 30_000): Promise<void> {
  const client = createClient({ url });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (!/^cluster_state:ok\b/m.test(await client.sendCommand<string>(['CLUSTER', 'INFO']))) {
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
