/**
 * The seam between one Redis and a Redis Cluster: what RedisConnection needs of node-redis,
 * given by a single client (with a second one for pub/sub) or by a cluster client. Everything
 * above it is the same code: commands and scripts are routed by their first key (all keys of a
 * call are in one slot, see ./keys.ts), and on a cluster pub/sub is sharded (SSUBSCRIBE and
 * SPUBLISH): a message goes only to the shard that owns its channel's slot, where plain PUBLISH
 * would be copied to every node over the cluster bus.
 */
import { EventEmitter } from 'node:events';
import { ClientOfflineError, createClient, createCluster } from '@redis/client';
import { countRedisCommand } from './command-count.ts';
import { replyWithin } from './reply-within.ts';
/** A raw RESP2 reply: what `sendCommand` and EVAL answer. */
export type Reply = string | number | null | Reply[];

export type RedisClient = ReturnType<typeof createClient>;
type RedisCluster = ReturnType<typeof createCluster>;
/** Told each message with its channel: node-redis is given one such function for every channel. */
type Listener = (message: string, channel: string) => void;

export interface LinkOptions {
  connectTimeoutMs: number;
  reconnectStrategy: (retries: number) => number;
}

/** How a process reaches Redis: commands, pub/sub, and a connection of its own for blocking reads. */
export interface RedisLink {
  /** Whether pub/sub is sharded (a cluster): scripts then ring their doorbells with SPUBLISH. */
  readonly sharded: boolean;
  /** Whether a command can be sent now (else it fails at once: there is no offline queue). */
  readonly commandsReady: boolean;
  readonly subscriptionsReady: boolean;
  connect(): Promise<void>;
  /** Sends one command to the node that owns `key` (any node for a command without keys). */
  send<T extends Reply>(key: string | undefined, args: string[]): Promise<T>;
  /**
   * Told that a command got no reply in time. A cluster's primary may be hung (a stopped process
   * keeps its connections open and answers nothing), and then nothing else tells the client that
   * its replica took over: the map of the slots is looked at again, so that later commands go
   * where their slots now live. Resolves once it has been (with one Redis, at once).
   */
  noReply(): Promise<void>;
  /** The PING of every node that holds data (the primaries of a cluster). */
  ping(): Promise<void>;
  /** INFO `section` of one node (enough to tell how the deployment is configured). */
  info(section: string): Promise<string>;
  subscribe(channel: string, listener: Listener): Promise<void>;
  unsubscribe(channel: string, listener: Listener): Promise<void>;
  /**
   * Events: `commands-ready` (the command side is (again) connected), `subscriptions-ready`
   * (subscriptions were (re)established: messages may have been missed), and `failure` with the
   * error and `'commands' | 'subscriptions' | 'blocking'` (not `error`, which throws when unheard).
   */
  readonly events: EventEmitter;
  /** A separate link for commands that block (XREADGROUP BLOCK), so that they hold up nothing else. */
  blocking(): BlockingLink;
  close(): Promise<void>;
}

export interface BlockingLink {
  readonly isReady: boolean;
  send<T extends Reply>(key: string, args: string[]): Promise<T>;
  /** As RedisLink's: its own map of a cluster's slots is looked at again. */
  noReply(): Promise<void>;
  /** Resolves once ready, or after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<void>;
  destroy(): void;
}

/** One Redis: a command client, and a duplicate that holds the subscriptions. */
export class SingleRedisLink implements RedisLink {
  readonly sharded = false;
  readonly events = new EventEmitter().setMaxListeners(0);
  private readonly client: RedisClient;
  private readonly subscriber: RedisClient;

  constructor(url: string, options: LinkOptions) {
    this.client = createClient({
      url,
      disableOfflineQueue: true,
      socket: { connectTimeout: options.connectTimeoutMs, reconnectStrategy: options.reconnectStrategy },
    });
    this.subscriber = this.client.duplicate();
    this.client.on('error', (error: unknown) => this.events.emit('failure', error, 'commands'));
    this.subscriber.on('error', (error: unknown) => this.events.emit('failure', error, 'subscriptions'));
    this.client.on('ready', () => this.events.emit('commands-ready'));
    this.subscriber.on('ready', () => this.events.emit('subscriptions-ready'));
  }

  get commandsReady() {
    return this.client.isReady;
  }

  get subscriptionsReady() {
    return this.subscriber.isReady;
  }

  async connect() {
    await Promise.all([this.client.connect(), this.subscriber.connect()]);
  }

  send<T extends Reply>(_key: string | undefined, args: string[]): Promise<T> {
    countRedisCommand();
    return this.client.sendCommand<T>(args);
  }

  async noReply() {
    // There is no other node to go to: the command side reconnects on its own if the link drops.
  }

  async ping() {
    countRedisCommand();
    await this.client.sendCommand(['PING']);
  }

  info(section: string) {
    countRedisCommand();
    return this.client.sendCommand<string>(['INFO', section]);
  }

  async subscribe(channel: string, listener: Listener) {
    countRedisCommand();
    await this.subscriber.subscribe(channel, listener);
  }

  async unsubscribe(channel: string, listener: Listener) {
    countRedisCommand();
    await this.subscriber.unsubscribe(channel, listener);
  }

  blocking(): BlockingLink {
    const client = this.client.duplicate();
    client.on('error', (error: unknown) => this.events.emit('failure', error, 'blocking'));
    client.connect().catch(() => undefined); // it keeps retrying; callers see it not ready meanwhile
    return {
      get isReady() {
        return client.isReady;
      },
      send: <T extends Reply>(_key: string, args: string[]) => {
        countRedisCommand();
        return client.sendCommand<T>(args);
      },
      noReply: async () => undefined,
      whenReady: (timeoutMs) => whenEmitted(client, 'ready', timeoutMs),
      destroy: () => {
        if (client.isOpen) client.destroy();
      },
    };
  }

  async close() {
    await Promise.all([closeGently(this.client), closeGently(this.subscriber)]);
  }
}

/**
 * A Redis Cluster through node-redis' cluster client, which keeps a connection per primary,
 * follows MOVED and ASK, and a sharded subscription client per primary that owns subscribed
 * channels. Reading from replicas is off: the event log must be read where it was written.
 */
export class ClusterRedisLink implements RedisLink {
  readonly sharded = true;
  readonly events = new EventEmitter().setMaxListeners(0);
  private readonly cluster: RedisCluster;
  /** The sharded subscription clients already watched for reconnections. */
  private readonly watched = new WeakSet<object>();
  /**
   * Whether the first map of the slots is in: node-redis counts the cluster open from the start
   * of `connect`, before it knows which primary serves what, when a command cannot be sent yet.
   */
  private mapped = false;
  private readonly slotMap: SlotMap;

  constructor(urls: readonly string[], options: LinkOptions) {
    this.cluster = createCluster({
      rootNodes: urls.map((url) => ({ url })),
      defaults: {
        disableOfflineQueue: true,
        socket: { connectTimeout: options.connectTimeoutMs, reconnectStrategy: options.reconnectStrategy },
      },
    });
    this.slotMap = new SlotMap(this.cluster, this.events);
    this.cluster.on('error', (error: unknown) => this.events.emit('failure', error, 'commands'));
    this.cluster.on('node-error', (error: unknown) => this.events.emit('failure', error, 'commands'));
    this.cluster.on('node-reconnecting', () => void this.slotMap.refresh());
    // A new node client (a new primary after a failover, a first sharded subscription client)
    // may carry subscriptions that moved to it: they count as re-established.
    this.cluster.on('node-ready', () => {
      this.watchSubscriptionClients();
      this.events.emit('commands-ready');
      this.events.emit('subscriptions-ready');
    });
  }

  get commandsReady() {
    return this.mapped && this.cluster.isOpen;
  }

  /**
   * A subscription connection still opening for the first time (a first channel on that
   * primary) holds its SSUBSCRIBE until it is up: only one that was up and dropped is an outage.
   */
  get subscriptionsReady() {
    return (
      this.commandsReady &&
      this.cluster.masters.every((master) => master.pubSub === undefined || master.pubSub.connectPromise !== undefined || master.pubSub.client.isReady)
    );
  }

  async connect() {
    await this.cluster.connect();
    this.mapped = true;
    this.events.emit('commands-ready');
  }

  /**
   * A primary that is down refuses its commands at once (there is no offline queue), and the
   * client goes on naming it for its slots until it looks at the cluster's map again. So a
   * refused command has the map looked at once more and is sent again: once its replica has
   * taken over, it lands there rather than failing until the next reconnection attempt. Being
   * refused before it was written, it cannot be carried out twice.
   */
  async send<T extends Reply>(key: string | undefined, args: string[]): Promise<T> {
    countRedisCommand();
    try {
      return await this.cluster.sendCommand<T>(key, false, args);
    } catch (error) {
      if (!(error instanceof ClientOfflineError) || !(await this.slotMap.refresh())) throw error;
      countRedisCommand();
      return this.cluster.sendCommand<T>(key, false, args);
    }
  }

  async noReply() {
    await this.slotMap.refresh();
  }

  async ping() {
    // With no primary known yet, there is nobody to answer (and nothing would be served).
    if (!this.commandsReady || this.cluster.masters.length === 0) throw new Error('the cluster is not mapped yet');
    await Promise.all(
      this.cluster.masters.map(async (master) => {
        countRedisCommand();
        return (await this.cluster.nodeClient(master)).sendCommand(['PING']);
      }),
    );
  }

  async info(section: string) {
    const master = this.cluster.masters[0];
    if (!master) throw new Error('the cluster has no primary');
    countRedisCommand();
    return (await this.cluster.nodeClient(master)).sendCommand<string>(['INFO', section]);
  }

  async subscribe(channel: string, listener: Listener) {
    countRedisCommand();
    await this.cluster.sSubscribe(channel, listener);
    this.watchSubscriptionClients();
  }

  async unsubscribe(channel: string, listener: Listener) {
    countRedisCommand();
    await this.cluster.sUnsubscribe(channel, listener);
  }

  blocking(): BlockingLink {
    // A cluster client of its own: a blocked read holds only its own connection to that primary.
    const cluster = this.cluster.duplicate();
    cluster.on('error', (error: unknown) => this.events.emit('failure', error, 'blocking'));
    const slotMap = new SlotMap(cluster, this.events);
    cluster.on('node-reconnecting', () => void slotMap.refresh());
    let ready = false;
    const connected = cluster.connect().then(
      () => void (ready = true),
      () => undefined,
    );
    return {
      get isReady() {
        return ready && cluster.isOpen;
      },
      send: <T extends Reply>(key: string, args: string[]) => {
        countRedisCommand();
        return cluster.sendCommand<T>(key, false, args);
      },
      noReply: async () => void (await slotMap.refresh()),
      whenReady: (timeoutMs) => Promise.race([connected, new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())]),
      destroy: () => {
        if (cluster.isOpen) cluster.destroy();
      },
    };
  }

  async close() {
    await closeGently(this.cluster);
  }

  /**
   * node-redis subscribes again by itself when a sharded subscription client reconnects; its
   * `ready` then says that messages may have been missed meanwhile.
   */
  private watchSubscriptionClients(): void {
    for (const master of this.cluster.masters) {
      const client = master.pubSub?.client;
      if (!client || this.watched.has(client)) continue;
      this.watched.add(client);
      client.on('error', (error: unknown) => this.events.emit('failure', error, 'subscriptions'));
      client.on('ready', () => this.events.emit('subscriptions-ready'));
      // A primary that gives a slot away (resharding) ends its sharded subscriptions there, and
      // node-redis 5 drops them without subscribing on the new owner (node-redis #3311, fixed in
      // 6): look up the new owner, then every channel is subscribed again where it now lives.
      client.on('sharded-channel-moved', () => {
        this.cluster._slots.rediscover(client).then(
          () => this.events.emit('subscriptions-ready'),
          (error: unknown) => this.events.emit('failure', error, 'subscriptions'),
        );
      });
    }
  }
}

/** How soon after one question about a cluster's map the next may be asked. */
const SLOT_MAP_REFRESH_INTERVAL_MS = 100;
/** How long a primary has to answer a PING to be the one asked about the map. */
const PRIMARY_ANSWER_MS = 1000;

/**
 * Has a cluster client ask the cluster which primary serves which slots. node-redis asks only
 * when a node answers MOVED or ASK: a primary that died would keep its slots (and its sharded
 * subscriptions) in the client's map for as long as it stays down, failing their commands after
 * its replica has taken over. So every reconnection attempt to a node and every command it
 * refuses asks again, until the map no longer names it; the subscriptions it held are then made
 * again on the new primary (its `node-ready`). One question at a time, and at most one per
 * interval: while a primary is down, each of its refused commands would otherwise open a
 * connection to ask.
 */
class SlotMap {
  /** The question in flight (or waiting for the interval to pass). */
  private asking: Promise<boolean> | undefined;
  /** When the last question was sent, and when the one whose answer the client holds was. */
  private askedAt = -Infinity;
  private answeredFor = -Infinity;

  constructor(
    private readonly cluster: RedisCluster,
    private readonly events: EventEmitter,
  ) {}

  /**
   * Resolves true once the client holds a map asked for at `since` or later (a map asked for
   * earlier, even a moment before, may predate the failover that refused a command), false when
   * the cluster could not be asked.
   */
  async refresh(since = performance.now()): Promise<boolean> {
    while (this.answeredFor < since) {
      if (!this.asking) {
        const asking = this.ask();
        this.asking = asking;
        void asking.finally(() => {
          if (this.asking === asking) this.asking = undefined;
        });
      }
      if (!(await this.asking)) return false;
    }
    return true;
  }

  private async ask(): Promise<boolean> {
    const wait = this.askedAt + SLOT_MAP_REFRESH_INTERVAL_MS - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
    const live = await this.answeringPrimary();
    if (!live || !this.cluster.isOpen) return false;
    const askedAt = (this.askedAt = performance.now());
    try {
      // `_slots` is node-redis' own map of the cluster, the one way to ask it to look again.
      await this.cluster._slots.rediscover(live);
      this.answeredFor = askedAt;
      return true;
    } catch (error) {
      this.events.emit('failure', error, 'commands');
      return false;
    }
  }

  /**
   * The client of a primary that answers a PING now. A connected client is not enough: node-redis
   * asks its map of the node it is given, with no time limit, and while that question hangs on a
   * hung primary it answers every later one (MOVED included) with the same unending wait.
   */
  private async answeringPrimary(): Promise<RedisClient | undefined> {
    for (const master of this.cluster.masters) {
      const client = master.client;
      if (!client?.isReady) continue;
      countRedisCommand();
      const answered = client.sendCommand(['PING']).then(
        () => true,
        () => false,
      );
      if ((await replyWithin(answered, PRIMARY_ANSWER_MS)) === true) return client as RedisClient;
    }
    return undefined;
  }
}

/** Resolves once `emitter` emits `event`, or after `timeoutMs`. */
function whenEmitted(emitter: EventEmitter, event: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      emitter.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    emitter.on(event, done);
  });
}

/** Closes a client (or cluster), waiting at most a second for its replies before dropping it. */
async function closeGently(client: RedisClient | RedisCluster): Promise<void> {
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
