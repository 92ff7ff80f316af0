/**
 * A worker process's wiring: the Runtime worker fed by the intent queue in Redis, with its own
 * /healthz, /readyz and /metrics on WORKER_PORT. It needs the same agents and tools as the
 * gateways that hand it runs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Config } from './config.ts';
import { Metrics } from './metrics.ts';
import { createRegistries, type RegistryOptions } from './registries.ts';
import { createBackend, runtimeSettings } from './runtime-host.ts';
import { RuntimeWorker } from './runtime/worker.ts';

export interface RunningWorker {
  worker: RuntimeWorker;
  httpServer: Server;
  logger: Logger;
  /** http://host:port of /healthz, /readyz and /metrics. */
  url: string;
  /**
   * Graceful stop: claims nothing more, lets its runs finish for up to WORKER_SHUTDOWN_GRACE_MS,
   * ends the rest as retryable failures, then releases the port and the backend.
   */
  stop(): Promise<void>;
}

export async function startWorker(config: Config, logger: Logger, options: RegistryOptions = {}): Promise<RunningWorker> {
  if (!config.REDIS_URL) {
    throw new Error(
      'A worker needs REDIS_URL: it takes runs from the intent queue in Redis, which gateways started with ' +
        'RUN_EXECUTION=workers fill (without Redis, `npm start` alone executes runs in the gateway).',
    );
  }
  const registries = createRegistries(config, options);
  const { backend, redis } = await createBackend(config, logger);
  if (!redis) throw new Error('unreachable: REDIS_URL is set');
  const metrics = new Metrics();
  const worker = new RuntimeWorker({
    ...runtimeSettings(config, backend, metrics, logger, registries),
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
  const url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`;
  logger.info(
    { worker: worker.id, concurrency: config.WORKER_CONCURRENCY, url },
    'agent gateway worker started; /healthz /readyz /metrics served here',
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await worker.stop(config.WORKER_SHUTDOWN_GRACE_MS);
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
      await backend.close();
      logger.info('agent gateway worker stopped');
    })());
  return { worker, httpServer, logger, url, stop };
}
