import { composeBackend } from '../compose.ts';
import { createMemoryLiveLayer } from '../memory/index.ts';
import { hotTailOf, retentionOf, type BackendRegistration } from '../registration.ts';

/**
 * PostgreSQL as the store of record, when DATABASE_URL is set, with Redis as the live layer
 * (REDIS_URL, or a Redis Cluster with REDIS_CLUSTER_NODES: any number of instances) or, without it, a live layer in this one process. A
 * `file:///` DATABASE_URL runs that PostgreSQL in this process on its data folder (PGlite), with
 * the live layer in this process too (the configuration refuses it with REDIS_URL).
 */
export const postgresBackend: BackendRegistration = {
  serves: (config) => config.DATABASE_URL !== undefined,
  async create(config, logger) {
    // Loaded only when used, as the Redis client is: the embedded default does without both (and
    // PGlite is loaded only for a data folder).
    const { createPostgresRecordStore } = await import('./index.ts');
    const record = await createPostgresRecordStore(config.DATABASE_URL!, {
      retention: retentionOf(config),
      idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS,
      historyCacheBytes: config.HISTORY_CACHE_BYTES,
      logger: logger.child({ component: 'postgres' }),
    });
    let live;
    const redis = config.REDIS_CLUSTER_NODES ? { clusterNodes: config.REDIS_CLUSTER_NODES } : config.REDIS_URL;
    if (redis) {
      const { createRedisLiveLayer } = await import('../redis/index.ts');
      live = await createRedisLiveLayer(redis, {
        keyPrefix: config.REDIS_KEY_PREFIX,
        lockTtlMs: config.REDIS_LOCK_TTL_MS,
        logger: logger.child({ component: 'redis' }),
        waitForConnection: false,
        hotTail: hotTailOf(retentionOf(config), config.REDIS_HOT_WINDOW_MS),
      });
    } else {
      live = createMemoryLiveLayer();
    }
    return composeBackend(record, live, logger);
  },
};
