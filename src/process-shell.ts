/**
 * What every process entry shares, gateway or worker: read the configuration (a bad setting is
 * fatal, and says which), start, and stop on SIGTERM or SIGINT.
 *
 * The first signal stops gracefully: the runs executing here may finish within the grace period,
 * then the process exits 0 (1 when stopping fails). One stop request often arrives twice within
 * milliseconds: a supervisor or a terminal signals the whole process group, and npm, which is in
 * that group too, forwards the signal to its child. So a signal within REPEATED_SIGNAL_MS of the
 * last one that counted is taken as that same request. A signal that comes later is an operator who will not
 * wait: the grace period ends there, the runs still executing end as retryable failures
 * (SHUTDOWN) where the store can be reached, and the process exits 1; it exits at once on a
 * third signal, or when recording those ends takes longer than AT_ONCE_LIMIT_MS.
 */
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from './config.ts';
import { startTracing, type Tracing } from './tracing/sdk.ts';

export interface StartedProcess {
  /** Graceful stop: whatever the process is doing ends per the contract, then its resources are released. */
  stop(): Promise<void>;
  /** Ends the grace period of a stop under way: what still executes ends now (SHUTDOWN). */
  hurry(): void;
}

/** Signals this soon after the first are the same stop request delivered again (group signal plus npm's forwarding). */
export const REPEATED_SIGNAL_MS = 1000;
/** How long stopping at once may spend recording the ends of its runs before the process exits anyway. */
export const AT_ONCE_LIMIT_MS = 5000;

export async function runProcess(name: string, start: (config: Config, logger: Logger) => Promise<StartedProcess>): Promise<void> {
  const bootLogger = pino({ name });
  let logger: Logger = bootLogger;
  let started: StartedProcess;
  let tracing: Tracing | null = null;
  try {
    const config = loadConfig();
    // Before anything else starts, so that every span of the process is exported (OTEL_* settings).
    tracing = await startTracing(name);
    logger = pino({ name, level: config.LOG_LEVEL });
    started = await start(config, logger);
  } catch (error) {
    logger.fatal((error as Error).message);
    process.exit(1);
  }

  // When the last signal that counted came: one within REPEATED_SIGNAL_MS of it is its echo.
  let countedAt: number | null = null;
  let hurried = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (countedAt !== null && now - countedAt < REPEATED_SIGNAL_MS) {
      logger.debug({ signal }, 'the same signal again (sent to the process group and forwarded by npm); ignored');
      return;
    }
    const first = countedAt === null;
    countedAt = now;
    if (first) {
      logger.info({ signal }, 'shutting down');
      started
        .stop()
        // The spans of the runs that ended during the stop are exported before the process goes.
        .then(() => tracing?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'could not export the last spans')))
        .then(
          () => process.exit(hurried ? 1 : 0),
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
    } else if (!hurried) {
      hurried = true;
      logger.warn({ signal }, 'stopping at once');
      started.hurry();
      setTimeout(() => {
        logger.warn({ limitMs: AT_ONCE_LIMIT_MS }, 'stopping at once took too long; exiting');
        process.exit(1);
      }, AT_ONCE_LIMIT_MS);
    } else {
      process.exit(1);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
