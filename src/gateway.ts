/**
 * Composes the planes for one process: the backend, the Runtime with the built-in agents, the
 * Experience plane's services, auth and metrics. The transports (server.ts) only call into this.
 */
import type { Logger } from 'pino';
import type { AgentDefinition } from './agents/contract.ts';
import { AGENTS } from './agents/index.ts';
import type { Config } from './config.ts';
import { Authenticator } from './experience/auth.ts';
import { ConversationService } from './experience/conversations.ts';
import { observeAppends } from './events/observed-log.ts';
import { Metrics } from './metrics.ts';
import { IntentRegistry } from './runtime/intents.ts';
import { PLATFORM_INTENTS } from './runtime/platform-intents.ts';
import type { EngineOptions } from './runtime/engine.ts';
import { Runtime } from './runtime/runtime.ts';
import type { Backend } from './store/interfaces.ts';
import { createMemoryBackend } from './store/memory/index.ts';
import type { RedisBackend } from './store/redis/index.ts';

export interface Gateway {
  config: Config;
  backend: Backend;
  runtime: Runtime;
  conversations: ConversationService;
  auth: Authenticator;
  agents: readonly AgentDefinition[];
  metrics: Metrics;
  logger: Logger;
  /** Ends in-flight runs per the contract and releases the backend. */
  close(): Promise<void>;
}

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

/** The Runtime's settings from the configuration, its events and statuses counted in `metrics`. */
export function runtimeSettings(config: Config, backend: Backend, metrics: Metrics, logger: Logger): EngineOptions {
  // Counted at the log, so that every appender (user messages, runs, recovery) is included.
  backend.events = observeAppends(backend.events, (event) => metrics.recordAppend(event));
  return {
    backend,
    agents: AGENTS,
    intents: new IntentRegistry().register(...PLATFORM_INTENTS),
    runTimeoutMs: config.RUN_TIMEOUT_MS,
    leaseMs: config.RUN_LEASE_MS,
    sweepIntervalMs: config.RUN_SWEEP_INTERVAL_MS,
    stepDelayMs: config.AGENT_STEP_DELAY_MS,
    logger: logger.child({ plane: 'runtime' }),
    onRunStatus: (status) => metrics.recordRunStatus(status),
  };
}

export async function createGateway(config: Config, logger: Logger): Promise<Gateway> {
  const { backend, redis } = await createBackend(config, logger);
  const metrics = new Metrics();
  const runtime = new Runtime({
    ...runtimeSettings(config, backend, metrics, logger),
    // Left to workers: this gateway stores and queues runs and hands each to them in an intent.
    ...(config.RUN_EXECUTION === 'workers' && { workers: { queue: requireRedis(redis).intents, maxQueuedRuns: config.MAX_QUEUED_RUNS } }),
  });
  const conversations = new ConversationService({
    backend,
    runtime,
    limits: {
      maxTextLength: config.MAX_TEXT_LENGTH,
      maxContextBytes: config.MAX_CONTEXT_BYTES,
      maxClientMessageIdLength: config.MAX_CLIENT_MESSAGE_ID_LENGTH,
      maxQueuedRunsPerConversation: config.MAX_QUEUED_RUNS_PER_CONVERSATION,
      sendRateLimit: config.SEND_RATE_LIMIT,
      sendRateWindowMs: config.SEND_RATE_WINDOW_MS,
      subscriberBufferEvents: config.SUBSCRIBER_BUFFER_EVENTS,
    },
  });
  return {
    config,
    backend,
    runtime,
    conversations,
    auth: new Authenticator(config.AUTH_JWT_SECRET),
    agents: [...AGENTS.values()],
    metrics,
    logger,
    async close() {
      await runtime.shutdown();
      await backend.close();
    },
  };
}

function requireRedis(redis: RedisBackend | null): RedisBackend {
  if (!redis) throw new Error('RUN_EXECUTION=workers requires REDIS_URL.');
  return redis;
}
