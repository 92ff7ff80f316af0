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
 *
 * The store of record (Redis alone, no DATABASE_URL) follows the same rule: what one of its
 * scripts changes together lives in the conversation's slot. On a cluster:
 *
 * - a run, a message and an input request live under their conversation's tag
 *   (`c:{<conversationId>}:run:<id>`, …), since a send, a transition and an answer change them
 *   with the conversation's log, queue and pending requests in one script; finding one by id
 *   alone goes through its index (`run:<id>`, `msg:<id>`, `input:<id>`: the conversation's id),
 *   written once, before the record (see ./locator.ts);
 * - a send's idempotency record is the conversation's (`c:{…}:idem:<key>`), with a route from the
 *   key to the conversation (`idem:<key>`) claimed first (see ./sends.ts);
 * - each run's fence epoch is kept in its conversation (`c:{…}:fence`), so that an append checks
 *   it in its own slot (see ./fences.ts);
 * - an owner's list of conversations and the due input requests stay one key each, updated by
 *   calls of their own beside the conversation's scripts.
 *
 * On one Redis every key is within reach of every script (`inReach`): records keep their names
 * by id, the idempotency record is `idem:<key>` itself, and the scripts update the owner's list,
 * the due set and the leases in the same atomic step, as before the cluster.
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

  /**
   * Whether keys outside a conversation's slot (owner lists, the due set, the leases, records by
   * id) may be used by the conversation's scripts: on one Redis, not on a cluster.
   */
  get inReach(): boolean {
    return !this.cluster;
  }

  /**
   * Where a record of a conversation is stored, by its id: a run's hash, a message's JSON or an
   * input request's hash. By id alone on one Redis (today's names), under the conversation's tag
   * on a cluster. Scripts build the names from `recordPrefix` and the id.
   */
  record(kind: RecordKind, conversationId: string, id: string): string {
    return this.recordPrefix(kind, conversationId) + id;
  }

  recordPrefix(kind: RecordKind, conversationId: string): string {
    return this.cluster ? `${this.conversation(conversationId)}:${kind}:` : this.key(kind, '');
  }

  /** On a cluster, the key that names the conversation of a record by its id (see ./locator.ts). */
  recordIndex(kind: RecordKind, id: string): string {
    return this.key(kind, id);
  }

  /**
   * A send's idempotency record (a hash: `r`, what the send stored): `idem:<key>` on one Redis,
   * the conversation's own on a cluster, where `idempotencyRoute` leads to it.
   */
  idempotency(conversationId: string, idempotencyKey: string): string {
    return this.cluster ? `${this.conversation(conversationId)}:idem:${idempotencyKey}` : this.key('idem', idempotencyKey);
  }

  /** On a cluster, the idempotency key of one of `conversationId`'s idempotency records. */
  idempotencyKeyOf(record: string, conversationId: string): string {
    return record.slice(`${this.conversation(conversationId)}:idem:`.length);
  }

  /** On a cluster, which conversation a send's idempotency key went to: "<conversationId> <claim>". */
  idempotencyRoute(idempotencyKey: string): string {
    return this.key('idem', idempotencyKey);
  }

  /** An owner's conversations, a sorted set of ids scored by updatedAt (ms). */
  ownerIndex(ownerKey: string): string {
    return this.key('owner', ownerKey);
  }

  /** Every PENDING input request with a due time, scored by when it is next looked at. */
  get inputsDue(): string {
    return this.key('inputs-due');
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
 * idempotency keys), `requests` and `inputs` (its input requests,
 * all and pending), `tail` (the hot tail of a history kept elsewhere) and `bell` (its pub/sub
 * channel), and on a cluster `fence` (its runs' fence epochs, see ./fences.ts). The
 * conversation's hash is the key without a part.
 */
export type ConversationPart = 'msgs' | 'runs' | 'queue' | 'ev' | 'seq' | 'epoch' | 'idem' | 'requests' | 'inputs' | 'tail' | 'bell' | 'fence';

/** The records of a conversation that are also found by id: runs, messages and input requests. */
export type RecordKind = 'run' | 'msg' | 'input';
