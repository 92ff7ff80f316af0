/**
 * Worker process entry (`npm run worker`): executes the runs that gateways started with
 * RUN_EXECUTION=workers hand over through the intent queue in Redis. Serves /healthz, /readyz
 * and /metrics on WORKER_PORT; on SIGTERM or SIGINT it claims nothing more, lets its runs finish
 * for up to WORKER_SHUTDOWN_GRACE_MS, ends the rest as retryable failures and exits 0.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Gauge } from 'prom-client';
import { loadConfig, type Config } from './config.ts';
import { createBackend, runtimeSettings } from './runtime-host.ts';
import { Metrics } from './metrics.ts';
import { RuntimeWorker } from './runtime/worker.ts';

const bootLogger = pino({ name: 'agent-gateway-worker' });
let config: Config;
try {
  config = loadConfig();
} catch (error) {
  bootLogger.fatal((error as Error).message);
  process.exit(1);
}
if (!config.REDIS_URL) {
  bootLogger.fatal(
    'A worker needs REDIS_URL: it takes runs from the intent queue in Redis, which gateways started with ' +
      'RUN_EXECUTION=workers fill (without Redis, `npm start` alone executes runs in the gateway).',
  );
  process.exit(1);
}

const logger = pino({ name: 'agent-gateway-worker', level: config.LOG_LEVEL });
const { backend, redis } = await createBackend(config, logger);
if (!redis) throw new Error('unreachable: REDIS_URL is set');
const metrics = new Metrics();
const worker = new RuntimeWorker({
  ...runtimeSettings(config, backend, metrics, logger),
  queue: redis.intents,
  concurrency: config.WORKER_CONCURRENCY,
});
new Gauge({
  name: 'agent_gateway_worker_executing_runs',
  help: 'Runs executing in this worker now.',
  registers: [metrics.registry],
  collect() {
    this.set(worker.executing);
  },
});
new Gauge({
  name: 'agent_gateway_worker_concurrency',
  help: 'How many runs this worker executes at once (WORKER_CONCURRENCY).',
  registers: [metrics.registry],
}).set(config.WORKER_CONCURRENCY);
new Gauge({
  name: 'agent_gateway_intents_outstanding',
  help: 'Run intents appended and not yet acknowledged by a worker, over the whole deployment.',
  registers: [metrics.registry],
  async collect() {
    this.set(await redis.intents.outstanding().catch(() => Number.NaN));
  },
});
worker.start();

const httpServer = createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const json = (status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    response.end(JSON.stringify(body));
  };
  if (path === '/healthz') return json(200, { status: 'ok' });
  if (path === '/readyz') {
    if (worker.isStopping) return json(503, { status: 'stopping' });
    backend.ping().then(
      () => json(200, { status: 'ready' }),
      (error: unknown) => json(503, { status: 'unavailable', reason: error instanceof Error ? error.message : String(error) }),
    );
    return;
  }
  if (path === '/metrics') {
    metrics.registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': metrics.registry.contentType });
        response.end(text);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'collecting metrics failed');
        json(500, { error: 'metrics failed' });
      },
    );
    return;
  }
  json(404, { error: 'Not found: this worker serves /healthz, /readyz and /metrics.' });
});
await new Promise<void>((resolve, reject) => {
  httpServer.once('error', reject);
  httpServer.listen(config.WORKER_PORT, config.HOST, () => resolve());
});
const { port } = httpServer.address() as AddressInfo;
logger.info(
  { worker: worker.id, concurrency: config.WORKER_CONCURRENCY, url: `http://${config.HOST}:${port}` },
  'agent gateway worker started; /healthz /readyz /metrics served here',
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) {
      // Asked twice: the runs still executing here end as WORKER_LOST once their leases run out.
      logger.warn({ signal }, 'stopping at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, graceMs: config.WORKER_SHUTDOWN_GRACE_MS, executing: worker.executing }, 'stopping: letting runs finish');
    (async () => {
      await worker.stop(config.WORKER_SHUTDOWN_GRACE_MS);
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
      await backend.close();
      logger.info('agent gateway worker stopped');
    })().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stopping the worker failed');
        process.exit(1);
      },
    );
  });
}
