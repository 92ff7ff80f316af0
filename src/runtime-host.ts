/**
 * What every process that hosts the Runtime shares, gateway or worker: the backend it works on
 * and the Runtime's settings. Kept apart from gateway.ts so that a worker loads no Experience plane.
 */
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { observeAppends, observeSends } from './events/observed-log.ts';
import type { Metrics } from './metrics.ts';
import type { Registries } from './registries.ts';
import type { EngineOptions } from './runtime/engine.ts';
import type { Backend } from './store/interfaces.ts';
import { createMemoryBackend } from './store/memory/index.ts';
import type { RedisBackend } from './store/redis/index.ts';

/** The backend a process works on: Redis when REDIS_URL is set (with its intent queue), else memory. */
export async function createBackend(config: Config, logger: Logger): Promise<{ backend: Backend; redis: RedisBackend | null }> {
  const retention = { maxEventsPerConversation: config.EVENT_RETENTION_COUNT, maxAgeMs: config.EVENT_RETENTION_MS };
  const redis = config.REDIS_URL
    ? // Loaded only when used: the Redis client is a sizeable import that the embedded default does without.
      await (await import('./store/redis/index.ts')).createRedisBackend(config.REDIS_URL, {
        retention,
        keyPrefix: config.REDIS_KEY_PREFIX,
        idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS,
        lockTtlMs: config.REDIS_LOCK_TTL_MS,
        logger: logger.child({ component: 'redis' }),
        // Start serving at once (/readyz says 503 until Redis answers) and connect in the background.
        waitForConnection: false,
      })
    : null;
  return { backend: redis ?? createMemoryBackend(retention, { idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS }), redis };
}

/** The Runtime's settings from the configuration, with its agents and tools, its events, statuses and tokens counted in `metrics`. */
export function runtimeSettings(
  config: Config,
  backend: Backend,
  metrics: Metrics,
  logger: Logger,
  registries: Registries,
): EngineOptions {
  // Counted at the log, so that every appender (user messages, runs, recovery) is included.
  backend.events = observeAppends(backend.events, (event) => metrics.recordAppend(event));
  backend.sends = observeSends(backend.sends, (event) => metrics.recordAppend(event));
  return {
    backend,
    agents: registries.agents,
    tools: registries.tools,
    runTimeoutMs: config.RUN_TIMEOUT_MS,
    leaseMs: config.RUN_LEASE_MS,
    sweepIntervalMs: config.RUN_SWEEP_INTERVAL_MS,
    stepDelayMs: config.AGENT_STEP_DELAY_MS,
    historyMessages: config.AGENT_HISTORY_MESSAGES,
    logger: logger.child({ plane: 'runtime' }),
    onRunStatus: (status) => metrics.recordRunStatus(status),
    onUsage: (usage) => metrics.recordUsage(usage),
  };
}
