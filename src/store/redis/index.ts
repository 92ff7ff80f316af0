import type { Logger } from 'pino';
import type { RetentionPolicy } from '../event-log.ts';
import { RedisEventLog } from './event-log.ts';
import type { Backend, IntentQueue } from '../interfaces.ts';
import { RedisConnection } from './connection.ts';
import { RedisControlChannel } from './control.ts';
import { RedisConversationStore } from './conversations.ts';
import { RedisIntentQueue } from './intent-queue.ts';
import { RedisRunLeases } from './leases.ts';
import { RedisLockService } from './locks.ts';
import { RedisMessageStore } from './messages.ts';
import { RedisRateLimiter } from './rate-limiter.ts';
import { RedisRunQueue, RedisRunStore } from './runs.ts';
import { RedisSendStore } from './sends.ts';
import { RedisInputRequestStore } from './inputs.ts';

/** How long a caller waits for a lock before giving up: twice the longest a dead holder can keep one by default. */
const LOCK_WAIT_MS = 10_000;

export interface RedisBackendOptions {
  retention: RetentionPolicy;
  /** Prepended to every key and channel (REDIS_KEY_PREFIX). */
  keyPrefix: string;
  logger?: Logger;
  /** How long a lock outlives a holder that died (REDIS_LOCK_TTL_MS). */
  lockTtlMs: number;
  /** How long an idempotency key is remembered (IDEMPOTENCY_TTL_MS). */
  idempotencyTtlMs: number;
  /**
   * Whether to wait for Redis before resolving (default true). When false the backend is
   * returned at once and connects in the background: until then `ping` fails and so do commands.
   */
  waitForConnection?: boolean;
}

/** The Redis backend has the intent queue through which gateways hand runs to workers. */
export interface RedisBackend extends Backend {
  intents: IntentQueue;
}

/** State shared by every instance on one Redis: the same contract as the memory backend, across processes. */
export async function createRedisBackend(url: string, options: RedisBackendOptions): Promise<RedisBackend> {
  const redis = new RedisConnection({ url, keyPrefix: options.keyPrefix, logger: options.logger });
  const connecting = redis.connect();
  if (options.waitForConnection === false) {
    connecting.catch((error: unknown) => options.logger?.warn({ err: error }, 'gave up connecting to Redis'));
  } else {
    await connecting;
  }
  const leases = new RedisRunLeases(redis);
  const events = new RedisEventLog(redis, options.retention, leases.epochs);
  const intents = new RedisIntentQueue(redis, options.logger);
  const stores = {
    conversations: new RedisConversationStore(redis),
    messages: new RedisMessageStore(redis),
    runs: new RedisRunStore(redis),
    runQueue: new RedisRunQueue(redis),
    leases,
    events,
  };
  return {
    kind: 'redis',
    ...stores,
    sends: new RedisSendStore(redis, stores, options.idempotencyTtlMs),
    inputs: new RedisInputRequestStore(redis, stores),
    locks: new RedisLockService(redis, { ttlMs: options.lockTtlMs, waitMs: LOCK_WAIT_MS, logger: options.logger }),
    rateLimiter: new RedisRateLimiter(redis),
    control: new RedisControlChannel(redis),
    intents,
    ping: () => redis.ping(),
    async close() {
      events.close();
      intents.close();
      await redis.close();
    },
  };
}
