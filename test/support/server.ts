/** Starts a real gateway on an ephemeral port, with test-friendly settings over the defaults. */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { inject } from 'vitest';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config.ts';
import { Metrics } from '../../src/metrics.ts';
import type { HostOptions } from '../../src/runtime-host.ts';
import { hostBackend, requireIntents, runtimeSettings } from '../../src/runtime-host.ts';
import { RuntimeWorker } from '../../src/runtime/worker.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { onServer } from './postgres-server.ts';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long';

/** The topology the test project runs the suite in (TEST_BACKEND): unset for memory. */
const TOPOLOGY = process.env['TEST_BACKEND'];
/** Whether test servers share state through Redis, so that several of them see one deployment. */
export const SHARED_TOPOLOGY = TOPOLOGY === 'redis' || TOPOLOGY === 'postgres' || TOPOLOGY === 'cluster' || TOPOLOGY === 'redis-cluster';
/** Whether the topology's Redis is a Redis Cluster (beside PostgreSQL for `cluster`, the store of record for `redis-cluster`). */
const ON_A_CLUSTER = TOPOLOGY === 'cluster' || TOPOLOGY === 'redis-cluster';
/** Whether a worker beside each test gateway executes its runs (and counts them in metrics of its own). */
export const WORKERS_EXECUTE = TOPOLOGY === 'redis-cluster' || TOPOLOGY === 'postgres';

export interface TestServerOptions extends HostOptions {
  /** Start without AUTH_JWT_SECRET (an ephemeral secret and POST /auth/dev-token, outside production). */
  withoutSecret?: boolean;
  /** Where the gateway logs (silent by default), for tests that check what it logs. */
  logger?: Logger;
}

/** Settings that put another test server on the deployment of `server` (its state shared). */
export function sameDeploymentAs(server: RunningServer): Record<string, string> {
  const { REDIS_KEY_PREFIX, DATABASE_URL } = server.gateway.config;
  return { REDIS_KEY_PREFIX, ...(DATABASE_URL !== undefined && { DATABASE_URL }) };
}

export async function startTestServer(overrides: Record<string, string> = {}, options: TestServerOptions = {}): Promise<RunningServer> {
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_JWT_SECRET: TEST_SECRET,
    AGENT_STEP_DELAY_MS: '0',
    SEND_RATE_LIMIT: '100000',
    ...overrides,
  };
  if (options.withoutSecret) delete env['AUTH_JWT_SECRET'];
  if (SHARED_TOPOLOGY) {
    if (ON_A_CLUSTER && env['REDIS_URL'] === undefined) env['REDIS_CLUSTER_NODES'] ??= inject('redisClusterNodes');
    else env['REDIS_URL'] ??= inject('redisUrl');
    env['REDIS_KEY_PREFIX'] ??= `agw-test-${randomUUID()}:`;
  }
  if (TOPOLOGY === 'postgres' || TOPOLOGY === 'cluster') env['DATABASE_URL'] ??= await onServer(inject('postgresUrl')).createDatabase();
  // With PostgreSQL too: each gateway has a worker beside it, two instances on one store of record.
  if (WORKERS_EXECUTE) env['RUN_EXECUTION'] ??= 'workers';
  const config = loadConfig(env);
  const logger = options.logger ?? pino({ level: process.env['LOG_LEVEL'] ?? 'silent' });
  const server = await startServer(config, logger, options);
  await untilReady(server);
  return config.RUN_EXECUTION === 'workers' ? withWorker(server, config, logger, options) : server;
}

/**
 * The gateway with a worker beside it, on the same Redis, settings, agents and tools: the
 * gateway only hands runs over, the worker executes them. Closing the server stops the worker first.
 */
async function withWorker(server: RunningServer, config: Config, logger: Logger, options: HostOptions): Promise<RunningServer> {
  const metrics = new Metrics();
  const backend = await hostBackend(config, logger, metrics, options.backend);
  const worker = new RuntimeWorker({
    ...runtimeSettings(config, backend, metrics, logger, server.gateway.registries),
    queue: requireIntents(backend, 'a worker needs REDIS_URL'),
    concurrency: config.WORKER_CONCURRENCY,
  });
  worker.start();
  return {
    ...server,
    async close() {
      await worker.stop(0);
      await backend.close();
      await server.close();
    },
  };
}

/** A Redis-backed server serves at once and connects in the background: wait until it can answer. */
async function untilReady(server: RunningServer, attempts = 200): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await server.gateway.backend.ping();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/**
 * Resolves once the server serves exactly `count` agentEvents subscriptions: checked after every
 * turn of the event loop for the first rounds, then every millisecond, for up to `timeoutMs`. A
 * bound in turns alone was a tenth of a second on an idle loop, shorter than a subscription's first
 * read of PostgreSQL takes while the whole suite runs.
 */
export async function awaitActiveSubscriptions(server: RunningServer, count: number, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let round = 0; performance.now() < deadline; round += 1) {
    const { values } = await server.gateway.metrics.activeSubscriptions.get();
    if (values.reduce((sum, { value }) => sum + value, 0) === count) return;
    await new Promise((resolve) => (round < 1000 ? setImmediate(resolve) : setTimeout(resolve, 1)));
  }
  throw new Error(`the server never had ${count} active subscriptions`);
}
