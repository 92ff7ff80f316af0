/**
 * Every setting in one place, parsed and validated once from the environment, each with its
 * default. Anything invalid stops the process at start with a message naming the setting.
 */
import { z } from 'zod';

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: int(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  AUTH_JWT_SECRET: z.string().min(32, 'AUTH_JWT_SECRET must be at least 32 characters').optional(),
  REDIS_URL: z.string().url().optional(),
  /** Prepended to every Redis key and channel, so that deployments can share one Redis. */
  REDIS_KEY_PREFIX: z.string().default('agw:'),
  /**
   * How long a Redis lock outlives an instance that died holding it (its holder extends it while
   * alive). Short, since a conversation waits that long after such a death; longer than any pause.
   */
  REDIS_LOCK_TTL_MS: int(5_000, 100),
  /**
   * Where runs execute: `embedded` in the gateway that accepted them (the default), or `workers`,
   * processes started with `npm run worker` that take them from an intent queue in Redis.
   */
  RUN_EXECUTION: z.enum(['embedded', 'workers']).default('embedded'),
  /** How many runs one worker executes at once. */
  WORKER_CONCURRENCY: int(4, 1),
  /** How long a worker stopping on SIGTERM lets its runs finish before ending them (SHUTDOWN, retryable). */
  WORKER_SHUTDOWN_GRACE_MS: int(30_000),
  /** Where a worker serves /healthz, /readyz and /metrics (on HOST); 0 picks a free port. */
  WORKER_PORT: int(4100),
  RUN_TIMEOUT_MS: int(120_000, 1),
  /** A run whose executing instance stops renewing its lease for this long is ended as WORKER_LOST. */
  RUN_LEASE_MS: int(15_000, 100),
  /** How often each instance looks for runs whose lease ran out. */
  RUN_SWEEP_INTERVAL_MS: int(5_000, 10),
  /** How long a settled clientMessageId is remembered with Redis (memory keeps it for the process' life). */
  IDEMPOTENCY_TTL_MS: int(24 * 3600 * 1000, 1000),
  AGENT_STEP_DELAY_MS: int(40),
  MAX_TEXT_LENGTH: int(8000, 1),
  MAX_CONTEXT_BYTES: int(64 * 1024, 1),
  MAX_CLIENT_MESSAGE_ID_LENGTH: int(128, 1),
  MAX_QUEUED_RUNS_PER_CONVERSATION: int(20, 1),
  /** With RUN_EXECUTION=workers: runs waiting for a worker at which sends answer RATE_LIMITED. */
  MAX_QUEUED_RUNS: int(10_000, 1),
  EVENT_RETENTION_COUNT: int(10_000, 1),
  EVENT_RETENTION_MS: int(7 * 24 * 3600 * 1000, 1),
  SUBSCRIBER_BUFFER_EVENTS: int(1000, 1),
  WS_MAX_BUFFERED_BYTES: int(4 * 1024 * 1024, 1024),
  WS_MAX_PAYLOAD_BYTES: int(256 * 1024, 1024),
  SEND_RATE_LIMIT: int(120, 1),
  SEND_RATE_WINDOW_MS: int(60_000, 1),
});

export type Config = z.infer<typeof schema> & { readonly production: boolean };

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set", so that `FOO= npm start` falls back to the default.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const config = { ...parsed.data, production: parsed.data.NODE_ENV === 'production' };
  if (config.production && !config.AUTH_JWT_SECRET) {
    throw new Error(
      'AUTH_JWT_SECRET is required when NODE_ENV=production: without it no token could be verified ' +
        '(outside production an ephemeral secret and POST /auth/dev-token are provided instead).',
    );
  }
  if (config.RUN_EXECUTION === 'workers' && !config.REDIS_URL) {
    throw new Error(
      'RUN_EXECUTION=workers requires REDIS_URL: gateways hand runs to workers through Redis ' +
        '(without Redis, leave RUN_EXECUTION unset and the gateway executes runs itself).',
    );
  }
  return config;
}
