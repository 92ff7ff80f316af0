/**
 * The backends the contract suite runs against. A "world" is shared state; `instances` gives two
 * backends on it, as two gateway processes would have: for memory both are the same object,
 * for Redis two sets of connections to one Redis under one key prefix.
 */
import { randomUUID } from 'node:crypto';
import type { RetentionPolicy } from '../../src/events/log.ts';
import type { Backend } from '../../src/store/interfaces.ts';
import { createMemoryBackend } from '../../src/store/memory/index.ts';
import { createRedisBackend } from '../../src/store/redis/index.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';

export const DEFAULT_RETENTION: RetentionPolicy = { maxEventsPerConversation: 10_000, maxAgeMs: 3600_000 };

export interface Instances {
  a: Backend;
  b: Backend;
  close(): Promise<void>;
}

export interface World {
  name: 'memory' | 'redis';
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** Fresh shared state, seen through two instances. */
  instances(retention?: RetentionPolicy): Promise<Instances>;
}

export const memoryWorld: World = {
  name: 'memory',
  setup: async () => undefined,
  teardown: async () => undefined,
  async instances(retention = DEFAULT_RETENTION) {
    const backend = createMemoryBackend(retention);
    return { a: backend, b: backend, close: () => backend.close() };
  },
};

export function redisWorld(): World & { redis(): TestRedis } {
  let redis: TestRedis | undefined;
  return {
    name: 'redis',
    redis: () => redis!,
    async setup() {
      redis = await startRedis();
    },
    async teardown() {
      await redis?.stop();
    },
    async instances(retention = DEFAULT_RETENTION) {
      const keyPrefix = `test-${randomUUID()}:`;
      const [a, b] = await Promise.all([
        createRedisBackend(redis!.url, { retention, keyPrefix }),
        createRedisBackend(redis!.url, { retention, keyPrefix }),
      ]);
      return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
    },
  };
}
