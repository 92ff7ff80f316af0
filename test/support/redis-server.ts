/**
 * A Redis of the test's own: `redis-server` on a free port, as a child process, stopped after
 * the tests. Without the binary, REDIS_URL names a Redis to use instead (tests then keep to
 * their own key prefixes and cannot kill it); without either, tests fail saying so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface TestRedis {
  url: string;
  /** False when the tests use an outside Redis (REDIS_URL) that they cannot stop or restart. */
  readonly owned: boolean;
  /** SIGKILL: an outage, with nothing flushed beyond what persistence already wrote. */
  kill(): Promise<void>;
  /** Starts it again on the same port (and, when persistent, with the same data). */
  restart(): Promise<void>;
  /** SIGSTOP: it keeps its connections and answers nothing, as a stalled Redis does, until `thaw`. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

export interface TestRedisOptions {
  /** Append-only file with fsync on every write, in a temporary directory: data survives kill(). */
  persistent?: boolean;
}

export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const binary = findRedisServer();
  if (!binary) {
    const url = process.env['REDIS_URL'];
    if (!url) {
      throw new Error(
        'These tests need Redis: install redis-server (e.g. `apt-get install redis-server`), put it on PATH ' +
          '(or set REDIS_SERVER_BIN), or set REDIS_URL to a Redis they may write to under their own key prefixes.',
      );
    }
    const unsupported = () => {
      throw new Error('This test stops and restarts Redis, which needs the redis-server binary (REDIS_URL is not enough).');
    };
    return {
      url,
      owned: false,
      kill: async () => unsupported(),
      restart: async () => unsupported(),
      freeze: unsupported,
      thaw: unsupported,
      stop: async () => undefined,
    };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'agw-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    ...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
  ];
  let child = await launch(binary, args);
  const exited = (process: ChildProcess) =>
    process.exitCode !== null || process.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => process.once('exit', () => resolve()));
  return {
    url: `redis://127.0.0.1:${port}`,
    owned: true,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async restart() {
      child = await launch(binary, args);
    },
    freeze() {
      child.kill('SIGSTOP');
    },
    thaw() {
      child.kill('SIGCONT');
    },
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function findRedisServer(): string | null {
  const candidates = process.env['REDIS_SERVER_BIN']
    ? [process.env['REDIS_SERVER_BIN']]
    : (process.env['PATH'] ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, 'redis-server'));
  for (const candidate of [...candidates, '/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Starts redis-server and resolves once it accepts connections. */
export function launch(binary: string, args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
