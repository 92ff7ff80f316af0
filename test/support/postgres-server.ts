/**
 * A PostgreSQL of the test file's own: a cluster made with `initdb` in a temporary directory and
 * served by `postgres` on a free port of 127.0.0.1 (its socket in that directory too), stopped
 * and removed after the tests. PostgreSQL refuses to run as root: as root, it runs as the
 * `postgres` system user (or `nobody`). Without the binaries, DATABASE_URL names a PostgreSQL to
 * use instead, on which the tests make databases of their own; without either, tests fail saying so.
 */
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePort } from './redis-server.ts';

export interface TestPostgres {
  /** Its maintenance database, as a `postgres://` URL: where databases are made. */
  url: string;
  /** A new, empty database on it, as a `postgres://` URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const binaries = findBinaries();
  if (binaries) return startCluster(binaries);
  const url = process.env['DATABASE_URL'];
  if (!url) {
    throw new Error(
      'These tests need PostgreSQL: install its server (e.g. `apt-get install postgresql`, which puts initdb and postgres ' +
        'in /usr/lib/postgresql/<version>/bin), put initdb and postgres on PATH (or set POSTGRES_BIN_DIR to their directory), ' +
        'or set DATABASE_URL to a PostgreSQL on which they may create databases.',
    );
  }
  return onServer(url);
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * A directory holding both initdb and postgres: POSTGRES_BIN_DIR when set (and only it), else PATH
 * first, then the Debian package's places, newest version first.
 */
function findBinaries(): Binaries | null {
  const debian = (() => {
    try {
      return readdirSync('/usr/lib/postgresql')
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => join('/usr/lib/postgresql', version, 'bin'));
    } catch {
      return [];
    }
  })();
  const chosen = process.env['POSTGRES_BIN_DIR'];
  const dirs = chosen ? [chosen] : [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/local/bin', ...debian];
  for (const dir of dirs) {
    const initdb = join(dir, 'initdb');
    const postgres = join(dir, 'postgres');
    if (executable(initdb) && executable(postgres)) return { initdb, postgres };
  }
  return null;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where and as whom the cluster's programs run. */
type RunAs = { cwd: string; uid?: number; gid?: number };

/** Who runs the cluster: this process, or an unprivileged user when this process is root. */
function clusterUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const users = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'));
  for (const name of ['postgres', 'nobody']) {
    const entry = users.find((fields) => fields[0] === name);
    if (entry) return { uid: Number(entry[2]), gid: Number(entry[3]) };
  }
  throw new Error('PostgreSQL refuses to run as root, and there is neither a postgres nor a nobody user to run it as.');
}

async function startCluster(binaries: Binaries): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'agw-pg-'));
  const user = clusterUser();
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  try {
    const as = { cwd: dir, ...user };
    await run(binaries.initdb, ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions'], as);
    const { child, port } = await serve(binaries.postgres, data, dir, as);
    return onServer(`postgres://postgres@127.0.0.1:${port}/postgres`, async () => {
      child.kill('SIGQUIT'); // immediate shutdown: the cluster, databases and all, is thrown away
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Starts postgres on a free port, trying another should the one picked be taken meanwhile. */
async function serve(binary: string, data: string, dir: string, as: RunAs) {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const args = [
      '-D',
      data,
      '-p',
      String(port),
      '-h',
      '127.0.0.1',
      '-k',
      dir,
      // Durability is not what these tests are about: nothing waits for a disk.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
      '-c',
      'logging_collector=off',
    ];
    try {
      return { child: await launch(binary, args, as), port };
    } catch (error) {
      if (attempt >= 3 || !/could not (bind|create listen socket)/i.test(String(error))) throw error;
    }
  }
}

/** Runs a program to its end, failing with its output when it fails. */
function run(binary: string, args: string[], as: RunAs): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], ...as });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${binary} failed (${code}):\n${output}`))));
  });
}

/** Starts postgres and resolves once it accepts connections (it says so on stderr). */
function launch(binary: string, args: string[], as: RunAs): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], ...as });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/database system is ready to accept connections/.test(output)) {
        child.stderr.off('data', onData);
        child.stderr.resume();
        child.stdout.resume();
        resolve(child);
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`postgres exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Databases made on the server at `url` (its maintenance database). `stop` stops the server
 * with `stopServer` when the tests own it, and otherwise drops the databases they made.
 */
export function onServer(url: string, stopServer?: () => Promise<void>): TestPostgres {
  const made: string[] = [];
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    url,
    async createDatabase() {
      const name = `agw_test_${randomUUID().replaceAll('-', '')}`;
      await admin((client) => client.query(`CREATE DATABASE ${name}`));
      made.push(name);
      const database = new URL(url);
      database.pathname = `/${name}`;
      return database.toString();
    },
    async stop() {
      if (stopServer) return stopServer();
      // FORCE: the tests' own pools may still be connected when a failed test skipped closing them.
      await admin(async (client) => {
        for (const name of made.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
    },
  };
}
