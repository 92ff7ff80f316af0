/**
 * One process's connections to Redis (one server, or a Redis Cluster: see ./link.ts): commands
 * shared by every store, and the subscriptions of every pub/sub listener of the process (the
 * event log's doorbells and the control channel), one per channel, reference-counted.
 *
 * Commands fail fast while Redis is unreachable (no offline queue): callers get a
 * SERVICE_UNAVAILABLE GatewayError at once instead of hanging, and the connections reconnect
 * by themselves with a capped backoff. After subscriptions are re-established, every channel is
 * subscribed again and the `onSubscribed` hooks run, so that listeners can catch up from the log.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { ErrorReply } from '@redis/client';
import { GatewayError } from '../../errors.ts';
import { RedisKeys } from './keys.ts';
import { ClusterRedisLink, SingleRedisLink, type BlockingLink, type RedisLink, type Reply } from './link.ts';
import { NO_REPLY, replyWithin } from './reply-within.ts';

export type { Reply };

export interface RedisConnectionOptions {
  /** One Redis (REDIS_URL), or… */
  url?: string;
  /** …the nodes to discover a Redis Cluster from (REDIS_CLUSTER_NODES). */
  clusterNodes?: readonly string[];
  /** Prepended to every key and channel, so that several deployments (or tests) can share a Redis. */
  keyPrefix: string;
  logger?: Logger;
  /** Longest pause between reconnection attempts. */
  maxReconnectDelayMs?: number;
  connectTimeoutMs?: number;
  /**
   * How long a caller waits for a reply before getting SERVICE_UNAVAILABLE (default 5 s): a
   * Redis that is down fails commands at once, but one that hangs would otherwise hang them.
   */
  commandTimeoutMs?: number;
}

/** Redis' replies that mean "not now" (loading its data, out of memory, read-only after a failover…). */
const TRANSIENT_REPLY = /^(LOADING|OOM|MISCONF|READONLY|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;

/**
 * Converts a failure to reach Redis (or a Redis that cannot serve right now) into the error
 * callers see; Redis' other replies (a bug of ours, such as a script error) pass through.
 */
export function unavailable(error: unknown): unknown {
  if (error instanceof GatewayError) return error;
  if (error instanceof ErrorReply && !TRANSIENT_REPLY.test(error.message)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new GatewayError('SERVICE_UNAVAILABLE', `The shared store (Redis) is unavailable: ${reason}. Retry shortly.`, {
    retryAfterMs: 1000,
  });
}

/** A Lua script run by its SHA1, sent whole once when Redis does not know it (e.g. after a restart). */
export class LuaScript {
  readonly sha: string;
  private shardedVariant: LuaScript | undefined;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * The script for sharded pub/sub (a cluster): its doorbells rung with SPUBLISH, which reaches
   * the subscribers of the channel's shard, where PUBLISH would reach only plain subscribers.
   */
  get sharded(): LuaScript {
    this.shardedVariant ??= this.source.includes("redis.call('PUBLISH'")
      ? new LuaScript(this.source.replaceAll("redis.call('PUBLISH'", "redis.call('SPUBLISH'"))
      : this;
    return this.shardedVariant;
  }
}

/** Hears the messages of a channel; told the channel, so that one function can listen to many. */
export type ChannelListener = (message: string, channel: string) => void;
/** Which of the process's connections: commands, or subscriptions (see ./link.ts). */
type Side = 'commands' | 'subscriptions';

export class RedisConnection {
  readonly keys: RedisKeys;
  private readonly link: RedisLink;
  private readonly logger: Logger | undefined;
  /**
   * Per subscribed channel, its listener, or a Set of them when it has several (rarely: the
   * event channel listens once per conversation, whatever the number of its own listeners).
   */
  private readonly channels = new Map<string, ChannelListener | Set<ChannelListener>>();
  /** The one function node-redis calls, for every channel: hands the message to the channel's listeners. */
  private readonly dispatch = (message: string, channel: string): void => {
    const listeners = this.channels.get(channel);
    if (typeof listeners === 'function') this.tell(listeners, message, channel);
    else if (listeners) for (const listener of listeners) this.tell(listener, message, channel);
  };
  /** Told of channels once their subscription is (again) in place: listeners may have missed messages. */
  private readonly hooks = new EventEmitter().setMaxListeners(0);
  private closed = false;
  private readonly outage: Record<Side, boolean> = { commands: false, subscriptions: false };
  private readonly commandTimeoutMs: number;

  constructor(options: RedisConnectionOptions) {
    this.logger = options.logger;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    const maxDelay = options.maxReconnectDelayMs ?? 1000;
    const linkOptions = {
      connectTimeoutMs: options.connectTimeoutMs ?? 2000,
      // Keep trying for as long as the process lives: an outage ends, and we want to be back at once.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), maxDelay) + Math.floor(Math.random() * 50),
    };
    if (options.clusterNodes && options.clusterNodes.length > 0) this.link = new ClusterRedisLink(options.clusterNodes, linkOptions);
    else if (options.url) this.link = new SingleRedisLink(options.url, linkOptions);
    else throw new Error('A Redis connection needs a URL or the nodes of a cluster.');
    this.keys = new RedisKeys(options.keyPrefix, this.link.sharded);
    this.watch();
    this.link.events.on('subscriptions-ready', () => this.resubscribe());
    this.link.events.once('commands-ready', () => void this.checkDurability());
  }

  /** Starts connecting; resolves once both connections are ready (they keep retrying until then). */
  async connect(): Promise<void> {
    await this.link.connect();
  }

  get isReady(): boolean {
    return this.link.commandsReady && this.link.subscriptionsReady;
  }

  get prefix(): string {
    return this.keys.prefix;
  }

  key(...parts: string[]): string {
    return this.keys.key(...parts);
  }

  /** The keys of one conversation share a hash tag, so that its scripts stay in one slot. */
  conversationKey(conversationId: string, suffix?: Parameters<RedisKeys['conversation']>[1]): string {
    return this.keys.conversation(conversationId, suffix);
  }

  /**
   * Sends one command, failing fast with SERVICE_UNAVAILABLE when Redis cannot be reached. On a
   * cluster it goes to the primary that owns `key`: the command's first argument unless said.
   */
  async command<T extends Reply = Reply>(args: (string | number)[], key: string | undefined = args[1]?.toString()): Promise<T> {
    if (!this.link.commandsReady) throw unavailable(new Error('not connected'));
    let reply: T | typeof NO_REPLY;
    try {
      reply = await replyWithin(this.link.send<T>(key, args.map(String)), this.commandTimeoutMs);
    } catch (error) {
      throw unavailable(error);
    }
    if (reply !== NO_REPLY) return reply;
    // Whether it was carried out is unknown, so it is not sent again; the next command is sent
    // where its slot lives now, should the node that kept silent be a hung cluster primary.
    await this.link.noReply();
    throw unavailable(new Error(`no reply within ${this.commandTimeoutMs} ms`));
  }

  /**
   * Runs a Lua script (EVALSHA, falling back to EVAL when Redis lost its script cache). On a
   * cluster all its keys must be in one slot, the slot of the primary it runs on.
   */
  async eval<T extends Reply = Reply>(script: LuaScript, keys: string[], args: (string | number)[]): Promise<T> {
    const run = this.link.sharded ? script.sharded : script;
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.command<T>(['EVALSHA', run.sha, ...tail], keys[0]);
    } catch (error) {
      if (!(error instanceof ErrorReply) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.command<T>(['EVAL', run.source, ...tail], keys[0]);
    }
  }

  /** A connection of its own for commands that block, so that they hold up nothing else. */
  blocking(): BlockingLink {
    return this.link.blocking();
  }

  /** Resolves once the command connection is ready (at once when it is). */
  whenReady(): Promise<void> {
    if (this.link.commandsReady || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.link.events.off('commands-ready', done);
        this.hooks.off('closed', done);
        resolve();
      };
      this.link.events.on('commands-ready', done);
      this.hooks.on('closed', done);
    });
  }

  /**
   * Listens to a channel through the process's subscriptions, until `unlisten`: the first
   * listener of a channel subscribes, the last one to leave unsubscribes. `onSubscribed` hooks
   * run whenever the subscription has just been (re)established, as listeners may have missed
   * messages before.
   */
  listen(channel: string, listener: ChannelListener): void {
    const listeners = this.channels.get(channel);
    if (listeners === undefined) {
      this.channels.set(channel, listener);
      this.subscribe(channel);
    } else if (typeof listeners === 'function') {
      if (listeners !== listener) this.channels.set(channel, new Set([listeners, listener]));
    } else {
      listeners.add(listener);
    }
  }

  unlisten(channel: string, listener: ChannelListener): void {
    const listeners = this.channels.get(channel);
    if (typeof listeners === 'object') {
      listeners.delete(listener);
      if (listeners.size === 1) this.channels.set(channel, listeners.values().next().value!);
      return;
    }
    if (listeners !== listener) return;
    this.channels.delete(channel);
    if (this.closed) return;
    // While disconnected node-redis holds pub/sub commands until it is back: no leak either way.
    this.link.unsubscribe(channel, this.dispatch).catch(() => undefined);
  }

  /** Runs `hook(channel)` each time the subscription to a channel has just become active. */
  onSubscribed(hook: (channel: string) => void): () => void {
    this.hooks.on('subscribed', hook);
    return () => void this.hooks.off('subscribed', hook);
  }

  /** Publishes on a channel (sharded on a cluster, as `listen` subscribes). */
  async publish(channel: string, message: string): Promise<void> {
    await this.command([this.link.sharded ? 'SPUBLISH' : 'PUBLISH', channel, message]);
  }

  async ping(timeoutMs = 1000): Promise<void> {
    if (!this.link.commandsReady) throw new Error('Redis command connection is not connected');
    if (!this.link.subscriptionsReady) throw new Error('Redis subscriber connection is not connected');
    if ((await replyWithin(this.link.ping(), timeoutMs)) !== NO_REPLY) return;
    // As for a command with no reply: a hung cluster primary is found out here too by a process
    // that sends it no command, only listens to its shard (see `command`).
    void this.link.noReply();
    throw new Error(`Redis did not answer PING within ${timeoutMs} ms`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hooks.emit('closed');
    this.channels.clear();
    await this.link.close();
  }

  /**
   * Says so when Redis is set up to lose what it acknowledged: without an append-only file an
   * acknowledged event is gone after a crash, and with eviction a seq counter could vanish and
   * numbers repeat. (Managed Redis may refuse INFO sections; then there is nothing to say.)
   */
  private async checkDurability(): Promise<void> {
    try {
      const info = `${await this.link.info('persistence')}\n${await this.link.info('memory')}`;
      const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
      if (field('aof_enabled') === '0') {
        this.logger?.warn(
          'Redis runs without appendonly: events acknowledged shortly before a Redis crash can be lost (see the README, "Configuring Redis for durability")',
        );
      }
      const policy = field('maxmemory_policy');
      if (policy !== undefined && policy !== 'noeviction') {
        this.logger?.warn(
          { maxmemoryPolicy: policy },
          'Redis may evict keys under memory pressure: set maxmemory-policy noeviction (see the README, "Configuring Redis for durability")',
        );
      }
    } catch {
      // Not allowed to look: nothing to report.
    }
  }

  private subscribe(channel: string): void {
    if (this.closed) return;
    // Sent at once, or as soon as the connection is back; should it be lost with a dropped
    // connection, `resubscribe` sends it again once reconnected.
    this.link.subscribe(channel, this.dispatch).then(
      () => {
        if (this.channels.has(channel)) this.hooks.emit('subscribed', channel);
        // Everyone left while the SUBSCRIBE was on its way: undo it.
        else this.link.unsubscribe(channel, this.dispatch).catch(() => undefined);
      },
      (error: unknown) => this.logger?.debug({ err: error, channel }, 'subscribing failed; retrying once reconnected'),
    );
  }

  private tell(listener: ChannelListener, message: string, channel: string): void {
    try {
      listener(message, channel);
    } catch (error) {
      this.logger?.error({ err: error, channel }, 'a pub/sub listener failed');
    }
  }

  /**
   * After (re)connecting: node-redis has already re-sent SUBSCRIBE for the channels it knew (so
   * for those this sends nothing); channels whose SUBSCRIBE was lost are subscribed now. Every
   * channel counts as freshly subscribed, since messages published meanwhile are lost.
   */
  private resubscribe(): void {
    for (const channel of this.channels.keys()) this.subscribe(channel);
  }

  private watch(): void {
    this.link.events.on('failure', (error: unknown, side: Side | 'blocking') => {
      // The intent queue's blocking connection retries by itself, and its caller sees the outage.
      if (side === 'blocking') return void this.logger?.debug({ err: error }, 'the intent queue connection to Redis failed; reconnecting');
      if (this.outage[side] || this.closed) return;
      this.outage[side] = true;
      this.logger?.warn({ err: error, connection: side }, 'lost the connection to Redis; reconnecting');
    });
    const back = (side: Side) => () => {
      if (!this.outage[side]) return;
      this.outage[side] = false;
      this.logger?.info({ connection: side }, 'reconnected to Redis');
    };
    this.link.events.on('commands-ready', back('commands'));
    this.link.events.on('subscriptions-ready', back('subscriptions'));
  }
}

/** Decodes a flat [field, value, field, value, …] reply into an object. */
export function pairs(reply: Reply): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}
