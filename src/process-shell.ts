/**
 * What every process entry shares, gateway or worker: read the configuration (a bad setting is
 * fatal, and says which), start, and stop on SIGTERM or SIGINT. The first signal stops gracefully
 * and exits 0 (1 when stopping fails); a second one exits 1 at once, for an operator who will not
 * wait for the grace period.
 */
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from './config.ts';

export interface StartedProcess {
  /** Graceful stop: whatever the process is doing ends per the contract, then its resources are released. */
  stop(): Promise<void>;
}

export async function runProcess(
  name: string,
  start: (config: Config, logger: Logger) => Promise<StartedProcess>,
): Promise<void> {
  const bootLogger = pino({ name });
  let logger: Logger = bootLogger;
  let started: StartedProcess;
  try {
    const config = loadConfig();
    logger = pino({ name, level: config.LOG_LEVEL });
    started = await start(config, logger);
  } catch (error) {
    logger.fatal((error as Error).message);
    process.exit(1);
  }

  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) {
        logger.warn({ signal }, 'stopping at once');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      started.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
