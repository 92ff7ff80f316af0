import type { Logger } from 'pino';
import type { RetentionPolicy } from '../event-log.ts';
import { RedisEventLog } from './event-log.ts';
import { composeBackend } from '../compose.ts';
import type { Backend, IntentQueue, LiveLayer, RecordStore } from '../interfaces.ts';
import { deleteConversation } from './deletion.ts';
import { RedisHeadStart } from './head-start.ts';
import { RedisHotTail, type HotTailOptions } from './hot-tail.ts';
import { RedisConnection } from './connection.ts';
import { liveGeneration } from './generation.ts';
import { RedisControlChannel } from './control.ts';
import { RedisConversationStore } from './conversations.ts';
import { RedisIntentQueue } from './intent-queue.ts';
import { RedisRunLeases } from './leases.ts';
import { RedisLockService } from './locks.ts';
import { RedisMessageStore } from './messages.ts';
import { RedisRateLimiter } from './rate-limiter.ts';
import { RedisRunQueue, RedisRunStore } from './runs.ts';
import { RedisRunCompletion } from './run-completion.ts';
import { RecentMessages } from '../recent-messages.ts';
import { RedisSendStore } from './sends.ts';
import { RedisInputRequestStore } from './inputs.ts';
import { RedisLocator } from './locator.ts';
import { RedisRunFences } from './fences.ts';

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
  /** The JSON size of the newest messages kept for runs' history reads (HISTORY_CACHE_BYTES). */
  historyCacheBytes: number;
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

export type RedisLiveLayer = LiveLayer & { intents: IntentQueue };

/**
 * State shared by every instance on one Redis, or on a Redis Cluster: the same contract as the
 * memory backend, across processes.
 */
export async function createRedisBackend(target: RedisTarget, options: RedisBackendOptions): Promise<RedisBackend> {
  const redis = await connect(target, options);
  const live = redisLiveLayer(redis, options);
  const { leases } = live;
  const locator = new RedisLocator(redis);
  // On one Redis appends are fenced by the leases' epochs, within the append script's reach; on
  // a cluster by the conversation's own fence (./fences.ts), which the leases keep up to date.
  const fences = redis.keys.inReach ? undefined : new RedisRunFences(redis, locator);
  const messages = new RedisMessageStore(redis, locator, new RecentMessages(options.historyCacheBytes));
  const events = new RedisEventLog(
    redis,
    options.retention,
    (conversationId) => (fences ? redis.conversationKey(conversationId, 'fence') : leases.epochs),
    messages,
  );
  const stores = {
    locator,
    conversations: new RedisConversationStore(redis),
    messages,
    runs: new RedisRunStore(redis, locator),
    runQueue: new RedisRunQueue(redis),
    leases,
    events,
  };
  const record: RecordStore = {
    kind: 'redis',
    conversations: stores.conversations,
    messages: stores.messages,
    runs: stores.runs,
    runQueue: stores.runQueue,
    // Its own live layer's partner: one script stores a send (with its run's lease on one
    // Redis), and one appends events after checking their fence, and publishes them.
    events,
    sends: new RedisSendStore(redis, stores, options.idempotencyTtlMs),
    inputs: new RedisInputRequestStore(redis, stores),
    ...(fences && { fences }),
    deleteConversation: (id) => deleteConversation(redis, locator, id),
    ping: () => redis.ping(),
    close: async () => events.close(),
  };
  // On one Redis a head run starts (and opens) in one script rather than six round trips one
  // after the other (./head-start.ts), and a completed run ends in one rather than three
  // (./run-completion.ts).
  const headStart = redis.keys.inReach ? new RedisHeadStart(redis, stores) : null;
  const completion = redis.keys.inReach ? new RedisRunCompletion(redis, stores) : null;
  return {
    ...composeBackend(record, live, options.logger),
    intents: live.intents,
    ...(headStart && { startHead: headStart.start.bind(headStart) }),
    ...(completion && { completeRun: completion.complete.bind(completion) }),
  };
}

/**
 * The live layer on Redis alone, for a store of record elsewhere (PostgreSQL): fan-out, control
 * messages, leases, locks, rate limits and the intent queue, shared by every instance on it.
 */
export async function createRedisLiveLayer(target: RedisTarget, options: RedisLiveLayerOptions): Promise<RedisLiveLayer> {
  return redisLiveLayer(await connect(target, options), options);
}

/** One Redis (its URL), or a Redis Cluster (some of its nodes' URLs). */
export type RedisTarget = string | { clusterNodes: readonly string[] };

export interface RedisLiveLayerOptions extends Omit<RedisBackendOptions, 'retention' | 'idempotencyTtlMs' | 'historyCacheBytes'> {
  /** The hot tail of the history whose appends it fans out (see ./hot-tail.ts). */
  hotTail: HotTailOptions;
}

async function connect(target: RedisTarget, options: Pick<RedisBackendOptions, 'keyPrefix' | 'logger' | 'waitForConnection'>): Promise<RedisConnection> {
  const redis = new RedisConnection({
    ...(typeof target === 'string' ? { url: target } : { clusterNodes: target.clusterNodes }),
    keyPrefix: options.keyPrefix,
    logger: options.logger,
  });
  const connecting = redis.connect();
  if (options.waitForConnection === false) {
    connecting.catch((error: unknown) => options.logger?.warn({ err: error }, 'gave up connecting to Redis'));
  } else {
    await connecting;
  }
  return redis;
}

/** The live layer on `redis`, which it closes when it closes. */
function redisLiveLayer(
  redis: RedisConnection,
  options: Pick<RedisLiveLayerOptions, 'lockTtlMs' | 'logger'> & Partial<RedisLiveLayerOptions>,
): RedisLiveLayer & { leases: RedisRunLeases } {
  const intents = new RedisIntentQueue(redis);
  const tails: RedisHotTail[] = [];
  return {
    kind: redis.keys.cluster ? 'cluster' : 'redis',
    leases: new RedisRunLeases(redis),
    locks: new RedisLockService(redis, { ttlMs: options.lockTtlMs, waitMs: LOCK_WAIT_MS, logger: options.logger }),
    rateLimiter: new RedisRateLimiter(redis),
    control: new RedisControlChannel(redis),
    intents,
    generation: () => liveGeneration(redis),
    fanoutOf(history) {
      if (!options.hotTail) throw new Error('the fan-out of a history kept elsewhere needs its hot tail settings');
      const tail = new RedisHotTail(redis, history, options.hotTail);
      tails.push(tail);
      return tail;
    },
    ping: () => redis.ping(),
    async close() {
      for (const tail of tails) tail.close();
      intents.close();
      await redis.close();
    },
  };
}
