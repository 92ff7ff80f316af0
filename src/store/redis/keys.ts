/**
 * The one definition of where things live in Redis: every key and channel name is made here.
 *
 * On a Redis Cluster a key's slot is the CRC16 of its hash tag (the part between the first `{`
 * and the next `}`), or of the whole name when it has none, and a Lua script, a MULTI or a
 * sharded channel may only touch keys of one slot. So:
 *
 * - everything of one conversation carries its id as hash tag, `c:{<conversationId>}…`: its
 *   hash, log, counter, queue, hot tail and its pub/sub channel live in one slot, each
 *   conversation's script stays atomic, and conversations spread over every primary;
 * - keys that are not a conversation's are each alone in a script call (a lock, a rate-limit
 *   window, the intent queue, the generation, the control channel), so each is in the one slot
 *   of its name; locks and rate limits, one key per lock or user, spread by their names;
 * - the run leases are four keys that every lease script uses together, so on a cluster they
 *   share the tag `{leases}`: one slot, on one primary. It carries a few commands per running
 *   run (an acquire, a renewal every third of RUN_LEASE_MS, a release) and the sweeps, which is
 *   little next to events; spreading them is for later (see docs/scaling.md).
 *
 * On one Redis the names are those of before the cluster (no tag on the leases), so that an
 * upgraded deployment finds its keys where they were.
 */
export class RedisKeys {
  /**
   * @param prefix REDIS_KEY_PREFIX, prepended to every name (it must hold no `{`, which would
   *   make it the hash tag of every key: the configuration refuses one on a cluster)
   * @param cluster whether names are laid out for a Redis Cluster
   */
  constructor(
    readonly prefix: string,
    readonly cluster: boolean,
  ) {}

  /** A key of this deployment that belongs to no conversation. */
  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /** A key (or channel) of one conversation: its id is the hash tag, so all of them share a slot. */
  conversation(conversationId: string, part?: ConversationPart): string {
    return `${this.prefix}c:{${conversationId}}${part === undefined ? '' : `:${part}`}`;
  }

  /** The conversation a conversation key or channel (with `part`) names, or null for any other name. */
  conversationOf(name: string, part: ConversationPart): string | null {
    const suffix = `}:${part}`;
    const start = `${this.prefix}c:{`;
    return name.startsWith(start) && name.endsWith(suffix) ? name.slice(start.length, -suffix.length) : null;
  }

  /** The run leases (see ./leases.ts): expiries, holders, epochs and the epoch counter, in one slot on a cluster. */
  get leases(): [set: string, info: string, epochs: string, counter: string] {
    if (this.cluster) return [this.key('{leases}'), this.key('{leases}', 'info'), this.key('{leases}', 'epoch'), this.key('{leases}', 'epochs')];
    return [this.key('leases'), this.key('lease-info'), this.key('lease-epoch'), this.key('lease-epochs')];
  }

  /** The stream of runs handed to workers (./intent-queue.ts). */
  get intents(): string {
    return this.key('intents');
  }

  /** The channel of messages to every instance (./control.ts). */
  get control(): string {
    return this.key('control');
  }

  /** The key that is there until the live layer's data is lost (see `liveGeneration`). */
  get generation(): string {
    return this.key('generation');
  }

  lock(name: string): string {
    return this.key('lock', name);
  }

  rateWindow(name: string): string {
    return this.key('rate', name);
  }
}

/**
 * The parts of a conversation: `msgs`, `runs`, `queue`, `ev` (the event stream), `seq` (its
 * counter), `epoch` (which beginning of its log this is, see ./event-log.ts), `idem` (its sends'
 * idempotency keys), `requests` and `inputs` (its input requests, all and pending), `tail` (the
 * hot tail of a history kept elsewhere) and `bell` (its pub/sub channel). The conversation's
 * hash is the key without a part.
 */
export type ConversationPart = 'msgs' | 'runs' | 'queue' | 'ev' | 'seq' | 'epoch' | 'idem' | 'requests' | 'inputs' | 'tail' | 'bell';
