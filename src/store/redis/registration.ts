import { retentionOf, type BackendRegistration } from '../registration.ts';

/**
 * Redis, when REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster) is set without
 * DATABASE_URL: state shared by every instance on it, and the intent queue to workers.
 */
export const redisBackend: BackendRegistration = {
  serves: (config) => config.REDIS_URL !== undefined || config.REDIS_CLUSTER_NODES !== undefined,
  async create(config, logger) {
    // Loaded only when used: the Redis client is a sizeable import that the embedded default does without.
    const { createRedisBackend } = await import('./index.ts');
    return createRedisBackend(config.REDIS_CLUSTER_NODES ? { clusterNodes: config.REDIS_CLUSTER_NODES } : config.REDIS_URL!, {
      retention: retentionOf(config),
      keyPrefix: config.REDIS_KEY_PREFIX,
      idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS,
      lockTtlMs: config.REDIS_LOCK_TTL_MS,
      historyCacheBytes: config.HISTORY_CACHE_BYTES,
      logger: logger.child({ component: 'redis' }),
      // Start serving at once (/readyz says 503 until Redis answers) and connect in the background.
      waitForConnection: false,
    });
  },
};
