/**
 * One process's connections to Redis: a command connection shared by every store, and one
 * subscriber connection shared by every pub/sub listener of the process (the event log's
 * doorbells and the control channel), with a subscription per channel, reference-counted.
 *
 * Commands fail fast while Redis is unreachable (no offline queue): callers get a
 * SERVICE_UNAVAILABLE GatewayError at once instead of hanging, and both connections reconnect
 * by themselves with a capped backoff. After the subscriber reconnects, every channel is
 * subscribed again and the `resubscribed` hooks run, so that listeners can catch up from the log.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { createClient, ErrorReply } from 'redis';
import { GatewayError } from '../../errors.ts';

export type RedisClient = ReturnType<typeof createClient>;
/** A raw RESP2 reply: what `sendCommand` and EVAL answer. */
export type Reply = string | number | null | Reply[];

export interface RedisConnectionOptions {
  url: string;
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
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

type ChannelListener = (message: string) => void;

interface ChannelState {
  listeners: Set<ChannelListener>;
  /** The one function node-redis calls for this channel; fans out to `listeners`. */
  dispatch: (message: string) => void;
}

export class RedisConnection {
  readonly client: RedisClient;
  readonly subscriber: RedisClient;
  readonly prefix: string;
  private readonly logger: Logger | undefined;
  private readonly channels = new Map<string, ChannelState>();
  /** Told of channels once their subscription is (again) in place: listeners may have missed messages. */
  private readonly hooks = new EventEmitter().setMaxListeners(0);
  private closed = false;
  private readonly outage = { client: false, subscriber: false };
  private readonly commandTimeoutMs: number;

  constructor(options: RedisConnectionOptions) {
    this.prefix = options.keyPrefix;
    this.logger = options.logger;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    const maxDelay = options.maxReconnectDelayMs ?? 1000;
    this.client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.connectTimeoutMs ?? 2000,
        // Keep trying for as long as the process lives: an outage ends, and we want to be back at once.
        reconnectStrategy: (retries) => Math.min(50 * 2 ** Math.min(retries, 10), maxDelay) + Math.floor(Math.random() * 50),
      },
    });
    this.subscriber = this.client.duplicate();
    this.watch(this.client, 'client');
    this.watch(this.subscriber, 'subscriber');
    this.subscriber.on('ready', () => this.resubscribe());
    this.client.once('ready', () => void this.checkDurability());
  }

  /** Starts connecting; resolves once both connections are ready (they keep retrying until then). */
  async connect(): Promise<void> {
    await Promise.all([this.client.connect(), this.subscriber.connect()]);
  }

  get isReady(): boolean {
    return this.client.isReady && this.subscriber.isReady;
  }

  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /** The keys of one conversation share a hash tag, so that its scripts stay in one slot. */
  conversationKey(conversationId: string, suffix?: string): string {
    return `${this.prefix}c:{${conversationId}}${suffix === undefined ? '' : `:${suffix}`}`;
  }

  /** Sends one command, failing fast with SERVICE_UNAVAILABLE when Redis cannot be reached. */
  async command<T extends Reply = Reply>(args: (string | number)[]): Promise<T> {
    if (!this.client.isReady) throw unavailable(new Error('not connected'));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply within ${this.commandTimeoutMs} ms`)), this.commandTimeoutMs);
    });
    try {
      return await Promise.race([this.client.sendCommand<T>(args.map(String)), timeout]);
    } catch (error) {
      throw unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a Lua script (EVALSHA, falling back to EVAL when Redis lost its script cache). */
  async eval<T extends Reply = Reply>(script: LuaScript, keys: string[], args: (string | number)[]): Promise<T> {
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.command<T>(['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      if (!(error instanceof ErrorReply) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.command<T>(['EVAL', script.source, ...tail]);
    }
  }

  /** Resolves once the command connection is ready (at once when it is). */
  whenReady(): Promise<void> {
    if (this.client.isReady || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.client.off('ready', done);
        this.hooks.off('closed', done);
        resolve();
      };
      this.client.on('ready', done);
      this.hooks.on('closed', done);
    });
  }

  /**
   * Listens to a channel through the process's one subscriber connection: the first listener of
   * a channel subscribes, the last one to leave unsubscribes. `onSubscribed` runs whenever the
   * subscription has just been (re)established, as listeners may have missed messages before.
   */
  listen(channel: string, listener: ChannelListener): () => void {
    let state = this.channels.get(channel);
    if (!state) {
      const created: ChannelState = {
        listeners: new Set(),
        dispatch: (message) => {
          for (const each of created.listeners) {
            try {
              each(message);
            } catch (error) {
              this.logger?.error({ err: error, channel }, 'a pub/sub listener failed');
            }
          }
        },
      };
      state = created;
      this.channels.set(channel, state);
      this.subscribe(channel, state);
    }
    state.listeners.add(listener);
    const owned = state;
    return () => {
      if (!owned.listeners.delete(listener) || owned.listeners.size > 0) return;
      if (this.channels.get(channel) !== owned) return;
      this.channels.delete(channel);
      if (this.closed) return;
      // While disconnected node-redis holds pub/sub commands until it is back: no leak either way.
      this.subscriber.unsubscribe(channel, owned.dispatch).catch(() => undefined);
    };
  }

  /** Runs `hook(channel)` each time the subscription to a channel has just become active. */
  onSubscribed(hook: (channel: string) => void): () => void {
    this.hooks.on('subscribed', hook);
    return () => void this.hooks.off('subscribed', hook);
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.command(['PUBLISH', channel, message]);
  }

  async ping(timeoutMs = 1000): Promise<void> {
    if (!this.client.isReady) throw new Error('Redis command connection is not connected');
    if (!this.subscriber.isReady) throw new Error('Redis subscriber connection is not connected');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer PING within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.client.sendCommand(['PING']), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hooks.emit('closed');
    this.channels.clear();
    await Promise.all([closeClient(this.client), closeClient(this.subscriber)]);
  }

  /**
   * Says so when Redis is set up to lose what it acknowledged: without an append-only file an
   * acknowledged event is gone after a crash, and with eviction a seq counter could vanish and
   * numbers repeat. (Managed Redis may refuse INFO sections; then there is nothing to say.)
   */
  private async checkDurability(): Promise<void> {
    try {
      const info = `${await this.client.sendCommand<string>(['INFO', 'persistence'])}\n${await this.client.sendCommand<string>(['INFO', 'memory'])}`;
      const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
      if (field('aof_enabled') === '0') {
        this.logger?.warn('Redis runs without appendonly: events acknowledged shortly before a Redis crash can be lost (see the README, "Configuring Redis for durability")');
      }
      const policy = field('maxmemory_policy');
      if (policy !== undefined && policy !== 'noeviction') {
        this.logger?.warn({ maxmemoryPolicy: policy }, 'Redis may evict keys under memory pressure: set maxmemory-policy noeviction (see the README, "Configuring Redis for durability")');
      }
    } catch {
      // Not allowed to look: nothing to report.
    }
  }

  private subscribe(channel: string, state: ChannelState): void {
    if (this.closed) return;
    // Sent at once, or as soon as the connection is back; should it be lost with a dropped
    // connection, `resubscribe` sends it again once reconnected.
    this.subscriber.subscribe(channel, state.dispatch).then(
      () => {
        if (this.channels.get(channel) === state) this.hooks.emit('subscribed', channel);
        // Everyone left while the SUBSCRIBE was on its way: undo it.
        else this.subscriber.unsubscribe(channel, state.dispatch).catch(() => undefined);
      },
      (error: unknown) => this.logger?.debug({ err: error, channel }, 'subscribing failed; retrying once reconnected'),
    );
  }

  /**
   * After (re)connecting: node-redis has already re-sent SUBSCRIBE for the channels it knew (so
   * for those this sends nothing); channels whose SUBSCRIBE was lost are subscribed now. Every
   * channel counts as freshly subscribed, since messages published meanwhile are lost.
   */
  private resubscribe(): void {
    for (const [channel, state] of this.channels) this.subscribe(channel, state);
  }

  private watch(client: RedisClient, name: 'client' | 'subscriber'): void {
    client.on('error', (error: unknown) => {
      if (this.outage[name] || this.closed) return;
      this.outage[name] = true;
      this.logger?.warn({ err: error, connection: name }, 'lost the connection to Redis; reconnecting');
    });
    client.on('ready', () => {
      if (!this.outage[name]) return;
      this.outage[name] = false;
      this.logger?.info({ connection: name }, 'reconnected to Redis');
    });
  }
}

async function closeClient(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.close(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  if (client.isOpen) client.destroy();
}

/** Decodes a flat [field, value, field, value, …] reply into an object. */
export function pairs(reply: Reply): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}
