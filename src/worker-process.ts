/**
 * A worker process's wiring: the Runtime worker fed by the intent queue in Redis, with its own
 * /healthz, /readyz and /metrics on WORKER_PORT. It needs the same agents and tools as the
 * gateways that hand it runs.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Config } from './config.ts';
import { Metrics } from './metrics.ts';
import { createRegistries } from './registries.ts';
import { hostBackend, requireIntents, runtimeSettings, type HostOptions } from './runtime-host.ts';
import { RuntimeWorker } from './runtime/worker.ts';
import { listen } from './transport/http/listen.ts';
import { createProbes, sendJson } from './transport/http/probes.ts';

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
  /** Ends the grace period of a stop under way: the runs still executing end now (SHUTDOWN). */
  hurry(): void;
}

export async function startWorker(config: Config, logger: Logger, options: HostOptions = {}): Promise<RunningWorker> {
  const registries = createRegistries(config, options);
  const metrics = new Metrics();
  const backend = await hostBackend(config, logger, metrics, options.backend);
  const intents = requireIntents(
    backend,
    'A worker needs REDIS_URL: it takes runs from the intent queue in Redis, which gateways started with ' +
      'RUN_EXECUTION=workers fill (without Redis, `npm start` alone executes runs in the gateway).',
  );
  const worker = new RuntimeWorker({
    ...runtimeSettings(config, backend, metrics, logger, registries),
    queue: intents,
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
      this.set(await intents.outstanding().catch(() => Number.NaN));
    },
  });
  worker.start();

  const probes = createProbes({
    ping: () => backend.ping(),
    isStopping: () => worker.isStopping,
    metrics: metrics.registry,
    logger,
  });
  const httpServer = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    void probes(path, response).then((answered) => {
      if (!answered) sendJson(response, 404, { error: 'Not found: this worker serves /healthz, /readyz and /metrics.' });
    });
  });
  const url = await listen(httpServer, config.WORKER_PORT, config.HOST);
  logger.info({ worker: worker.id, concurrency: config.WORKER_CONCURRENCY, url }, 'agent gateway worker started; /healthz /readyz /metrics served here');

  let stopping: Promise<void> | undefined;
  const hurry = new AbortController();
  const stop = () =>
    (stopping ??= (async () => {
      logger.info({ graceMs: config.WORKER_SHUTDOWN_GRACE_MS, executing: worker.executing }, 'stopping: letting runs finish');
      await worker.stop(config.WORKER_SHUTDOWN_GRACE_MS, hurry.signal);
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
      await backend.close();
      logger.info('agent gateway worker stopped');
    })());
  return { worker, httpServer, logger, url, stop, hurry: () => hurry.abort() };
}
