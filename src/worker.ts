/**
 * Worker process entry (`npm run worker`): executes the runs that gateways started with
 * RUN_EXECUTION=workers hand over through the intent queue in Redis. Serves /healthz, /readyz
 * and /metrics on WORKER_PORT; on SIGTERM or SIGINT it claims nothing more, lets its runs finish
 * for up to WORKER_SHUTDOWN_GRACE_MS, ends the rest as retryable failures and exits 0.
 */
import { pino } from 'pino';
import { loadConfig, type Config } from './config.ts';
import { startWorker, type RunningWorker } from './worker-process.ts';

const bootLogger = pino({ name: 'agent-gateway-worker' });
let config: Config;
let running: RunningWorker;
try {
  config = loadConfig();
  running = await startWorker(config, pino({ name: 'agent-gateway-worker', level: config.LOG_LEVEL }));
} catch (error) {
  // A bad setting, or no REDIS_URL: say which and stop.
  bootLogger.fatal((error as Error).message);
  process.exit(1);
}
const { logger } = running;

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) {
      // Asked twice: the runs still executing here end as WORKER_LOST once their leases run out.
      logger.warn({ signal }, 'stopping at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, graceMs: config.WORKER_SHUTDOWN_GRACE_MS, executing: running.worker.executing }, 'stopping: letting runs finish');
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stopping the worker failed');
        process.exit(1);
      },
    );
  });
}
