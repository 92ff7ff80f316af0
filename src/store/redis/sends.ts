import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../errors.ts';
import { APPEND_LUA, type RedisEventLog } from './event-log.ts';
import type { RedisLocator } from './locator.ts';
import type { NewEvent } from '../../domain/events.ts';
import type { NewSend, SendOutcome, SendStore } from '../interfaces.ts';
import type { SendReservation } from '../../domain/records.ts';
import { LuaScript, pairs, type RedisConnection, type Reply } from './connection.ts';
import { CONVERSATION_LUA, decode as decodeConversation, type RedisConversationStore } from './conversations.ts';
import { LEASE_LUA, type RedisRunLeases } from './leases.ts';
import { RATE_LUA } from './rate-limiter.ts';
import { MESSAGE_LUA, unnumberedJson, type RedisMessageStore } from './messages.ts';
import { RUN_LUA, encode as encodeRun, type RedisRunQueue, type RedisRunStore } from './runs.ts';

/**
 * A send in one script of the conversation's, so that Redis runs it as one atomic step (and
 * writes it to the AOF as one transaction): every check comes before the first write, so that
 * nothing is left half stored, whatever dies when. The writes are the other stores' own Lua
 * functions.
 *
 * On one Redis (`inReach`) the script also lists the conversation in its owner's set and takes
 * the run's lease, as it always did: one round trip. On a cluster those keys are in other slots,
 * and the send takes a few calls (see `RedisSendStore.commitOnCluster`).
 *
 * KEYS: idempotency record, conversation hash, event stream, seq counter, message by id,
 * conversation's messages, run hash, conversation's runs, run queue, the conversation's
 * idempotency records, its log's epoch; then, within reach only, the owner index,
 * `acquireLease`'s four keys and the send's rate window (when it counts one).
 * ARGV: run prefix, max active runs, key TTL ms, stored ids JSON ('' without a key),
 * conversation id, owner JSON, createdAt, updatedAt, updatedAt score, title, then `appendEvent`'s
 * body, max events, max age ms, channel and floor (epoch, seq), the message JSON up to its seq,
 * run id, lease holder, lease TTL ms, owner index, the claim of the idempotency route ('' for
 * none: see `commitOnCluster`), the rate window's limit ('' for none) and length in ms, then the
 * run's fields (field, value, …).
 * Returns {'rate-limited', ms until the window resets}, {'repeated', stored ids JSON},
 * {'moved'} (the claim was voided), {'not-owner'}, {'busy', active run id, …} or
 * {'stored', seq, timestamp ms, conversation hash, log epoch}.
 */
const COMMIT = new LuaScript(`${APPEND_LUA}${CONVERSATION_LUA}${MESSAGE_LUA}${RUN_LUA}${LEASE_LUA}${RATE_LUA}
-- Counted first, as it was when a round trip of its own came before the send: a send refused
-- for another reason (a repeat, a busy conversation) counts too.
if ARGV[23] ~= '' then
  local count, ttl = hitWindow(KEYS[17], ARGV[24])
  if count > tonumber(ARGV[23]) then return {'rate-limited', ttl} end
end
if ARGV[4] ~= '' then
  local stored = redis.call('HGET', KEYS[1], 'r')
  if stored then return {'repeated', stored} end
  if ARGV[22] ~= '' and redis.call('HEXISTS', KEYS[1], 'void:' .. ARGV[22]) == 1 then return {'moved'} end
end
local exists = redis.call('EXISTS', KEYS[2]) == 1
if exists and redis.call('HGET', KEYS[2], 'ownerIndex') ~= ARGV[21] then return {'not-owner'} end
local active = activeRuns(KEYS[9], ARGV[1])
if #active >= tonumber(ARGV[2]) then return {'busy', unpack(active)} end

local indexed = ''
if #KEYS > 11 then indexed = '1' end
if not exists then createConversation(KEYS[2], ARGV[21], indexed, ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], '') end
local seq, now, logEpoch = appendEvent(KEYS[3], KEYS[4], KEYS[11], ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16])
addMessage(KEYS[5], KEYS[6], ARGV[17] .. seq .. '}', seq)
touchConversation(KEYS[2], indexed, ARGV[8], ARGV[9], ARGV[10])
createRun(KEYS[7], KEYS[8], ARGV[18], {unpack(ARGV, 25)})
redis.call('RPUSH', KEYS[9], ARGV[18])
if indexed == '1' then acquireLease(KEYS[13], KEYS[14], KEYS[15], KEYS[16], ARGV[18], ARGV[5], ARGV[19], ARGV[20], now) end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'r', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  -- Listed with the conversation, so that deleting it forgets the key too.
  redis.call('SADD', KEYS[10], KEYS[1])
  redis.call('PEXPIRE', KEYS[10], ARGV[3])
end
return {'stored', seq, now, redis.call('HGETALL', KEYS[2]), logEpoch}
`);

/**
 * On a cluster, gives up the claim ARGV[1] on a conversation's idempotency record, unless a send
 * was stored with it: then that is the answer. KEYS: idempotency record, the conversation's
 * idempotency records. ARGV: claim, key TTL ms. Returns {'repeated', stored ids JSON} or {'void'}.
 */
const VOID = new LuaScript(`
local stored = redis.call('HGET', KEYS[1], 'r')
if stored then return {'repeated', stored} end
redis.call('HSET', KEYS[1], 'void:' .. ARGV[1], '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {'void'}
`);

/** KEYS: idempotency route. ARGV: the route expected, the new one, key TTL ms. 1 when it was moved. */
const MOVE_ROUTE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`);

/**
 * How long a claim on an idempotency route is left to commit before another send with the key
 * takes the key over, its sender taken for dead. Sends with one key at once wait for the first
 * claim rather than take the key from each other in turn (which could go on for ever).
 */
const CLAIM_GRACE_MS = 2000;
/** How long a send on a cluster follows its idempotency route before giving up. */
const ROUTE_DEADLINE_MS = 2 * CLAIM_GRACE_MS;
/** The longest wait between two looks at a claim another send holds. */
const CLAIM_POLL_MAX_MS = 50;

/** The commit script's answers, and 'moved': the idempotency route this attempt followed was taken away from it. */
type CommitReply = SendOutcome | { outcome: 'moved' };

export interface RedisSendStores {
  locator: RedisLocator;
  conversations: RedisConversationStore;
  messages: RedisMessageStore;
  runs: RedisRunStore;
  runQueue: RedisRunQueue;
  leases: RedisRunLeases;
  events: RedisEventLog;
}

export class RedisSendStore implements SendStore {
  /** @param keyTtlMs how long an idempotency key is remembered (IDEMPOTENCY_TTL_MS). */
  constructor(
    private readonly redis: RedisConnection,
    private readonly stores: RedisSendStores,
    private readonly keyTtlMs: number,
  ) {}

  /** On one Redis the send's rate window is counted in its script; on a cluster it is in another slot. */
  get countsRate(): boolean {
    return this.redis.keys.inReach;
  }

  async commit(send: NewSend): Promise<SendOutcome> {
    if (send.rate && !this.countsRate) throw new Error("a send's rate window is counted in its script only on one Redis");
    if (this.redis.keys.inReach) return settled(await this.commitIn(send, ''));
    return this.commitOnCluster(send);
  }

  /**
   * A send on a cluster, where its conversation's script cannot reach the idempotency key's
   * route, the owner's list, the indexes of its records by id, nor the leases:
   *
   * 1. the run's lease is taken (adopt: only if it has none) and the run's and message's indexes
   *    written, at once, before anything can find the run: a run stored is always leased (a
   *    sweep finds it should this process die) and found by id. Should the send be refused,
   *    they are undone; should this process die first, the lease runs out and the sweep finds
   *    no run (the fence of a run not stored is 0, and recovery releases it);
   * 2. with an idempotency key, the key's route is claimed (`idem:<key>`, SET NX: "<conversation>
   *    <claim>"), or found taken;
   * 3. the conversation's script commits, checking and writing the conversation's own
   *    idempotency record, which is the authority: a send stored with the key answers every
   *    later attempt 'repeated';
   * 4. the conversation goes into its owner's list (see ./conversations.ts).
   *
   * A send that finds the route taken by its own conversation commits there with the route's
   * claim, and the conversation's record says whether it was stored already: concurrent repeats
   * through any instances store one message and one run. A route to another conversation (a
   * repeat of a send that created a conversation names a new one each time) is followed: the
   * other conversation's record answers 'repeated' when the send was stored there; if not, its
   * sender is about to commit, or died between claiming and committing. A claim younger than
   * CLAIM_GRACE_MS is waited for (its record looked at again, a little later each time). An
   * older one is taken over: this send voids that claim in that conversation (in its slot, so
   * after it the claim's commit is refused 'moved', and before it the void finds the send
   * stored), moves the route to itself (a compare-and-set: another repeat may have moved it
   * first) and commits with its own claim. A sender refused 'moved' follows the route again. So
   * at any time at most one claim on the key can still be committed, and a send is stored at
   * most once per key.
   */
  private async commitOnCluster(send: NewSend): Promise<SendOutcome> {
    const { run, message, conversation, lease } = send;
    const { leases, conversations, locator } = this.stores;
    await Promise.all([
      leases.adopt([{ runId: run.id, conversationId: conversation.id }], lease.holder, lease.ttlMs),
      locator.index('run', run.id, conversation.id),
      locator.index('msg', message.id, conversation.id),
    ]);
    const outcome = await this.followRoute(send);
    if (outcome.outcome === 'stored') {
      await conversations.listed(outcome.conversation);
    } else if (outcome.outcome !== 'repeated' || outcome.stored.runId !== run.id) {
      // Nothing of this attempt was stored: no lease nor index is left behind (should this fail,
      // the lease runs out and the indexes name no record, which readers take as none).
      await Promise.all([leases.release(run.id, lease.holder), locator.forget('run', [run.id]), locator.forget('msg', [message.id])]);
    }
    return outcome;
  }

  private async followRoute(send: NewSend): Promise<SendOutcome> {
    if (send.idempotencyKey === null) return settled(await this.commitIn(send, ''));
    const route = this.redis.keys.idempotencyRoute(send.idempotencyKey);
    const own = send.conversation.id;
    const giveUpAt = Date.now() + ROUTE_DEADLINE_MS;
    for (let look = 0; Date.now() < giveUpAt; look += 1) {
      const mine = `${own} ${randomUUID()}`;
      const found = await this.redis.command<string | null>(['SET', route, mine, 'NX', 'PX', this.keyTtlMs, 'GET']);
      const [target, claim] = splitRoute(found ?? mine);
      if (target === own) {
        const reply = await this.commitIn(send, claim);
        if (reply.outcome !== 'moved') return reply;
        continue;
      }
      const record = this.redis.keys.idempotency(target, send.idempotencyKey);
      // How long ago the route was claimed or moved: its expiry was set then. (One without an
      // expiry was not set by a send: as good as dead.)
      const ttl = Number(await this.redis.command(['PTTL', route]));
      if (ttl >= 0 && this.keyTtlMs - ttl < CLAIM_GRACE_MS) {
        const stored = await this.redis.command<string | null>(['HGET', record, 'r']);
        if (stored !== null) return { outcome: 'repeated', stored: JSON.parse(stored) as SendReservation };
        await new Promise((resolve) => setTimeout(resolve, Math.min(CLAIM_POLL_MAX_MS, 2 ** look)));
        continue;
      }
      const voided = await this.redis.eval<Reply[]>(VOID, [record, this.redis.conversationKey(target, 'idem')], [claim, this.keyTtlMs]);
      if (voided[0] === 'repeated') return { outcome: 'repeated', stored: JSON.parse(String(voided[1])) as SendReservation };
      if (Number(await this.redis.eval(MOVE_ROUTE, [route], [found!, mine, this.keyTtlMs])) !== 1) continue;
      const reply = await this.commitIn(send, splitRoute(mine)[1]);
      if (reply.outcome !== 'moved') return reply;
    }
    throw new GatewayError('SERVICE_UNAVAILABLE', 'Concurrent sends with this clientMessageId kept each other from being stored; retry shortly.', {
      retryAfterMs: 100,
    });
  }

  /** The conversation's script, with `claim` on the idempotency route ('' on one Redis, or without a key). */
  private async commitIn(send: NewSend, claim: string): Promise<CommitReply> {
    const { conversations, messages, runs, runQueue, leases, events } = this.stores;
    const { conversation, message, run } = send;
    const event: NewEvent = { type: 'MessageCreated', conversationId: conversation.id, runId: run.id, agentId: null, message };
    const stored: SendReservation = { conversationId: conversation.id, messageId: message.id, runId: run.id };
    const ownerIndex = conversations.ownerIndex(conversation.owner);
    const keys = [
      this.redis.keys.idempotency(conversation.id, send.idempotencyKey ?? ''),
      this.redis.conversationKey(conversation.id),
      ...events.appendKeys(conversation.id),
      ...messages.keys(message),
      ...runs.keys(run),
      runQueue.queue(conversation.id),
      this.redis.conversationKey(conversation.id, 'idem'),
      events.epochKey(conversation.id),
      ...(this.redis.keys.inReach ? [ownerIndex, ...leases.keys] : []),
      ...(send.rate ? [this.redis.keys.rateWindow(send.rate.key)] : []),
    ];
    const updatedAt = message.createdAt;
    const args = [
      runs.prefix(conversation.id),
      send.maxActiveRuns,
      this.keyTtlMs,
      send.idempotencyKey === null ? '' : JSON.stringify(stored),
      conversation.id,
      JSON.stringify(conversation.owner),
      conversation.createdAt,
      updatedAt,
      Date.parse(updatedAt),
      send.title,
      ...events.appendArgs(event),
      unnumberedJson(message),
      run.id,
      send.lease.holder,
      send.lease.ttlMs,
      ownerIndex,
      claim,
      send.rate?.limit ?? '',
      send.rate?.windowMs ?? '',
      ...encodeRun(run),
    ];
    const reply = await this.redis.eval<Reply[]>(COMMIT, keys, args);
    switch (reply[0]) {
      case 'rate-limited':
        return { outcome: 'rate-limited', retryAfterMs: Number(reply[1]) };
      case 'repeated':
        return { outcome: 'repeated', stored: JSON.parse(String(reply[1])) as SendReservation };
      case 'moved':
        return { outcome: 'moved' };
      case 'not-owner':
        return { outcome: 'not-owner' };
      case 'busy':
        return { outcome: 'busy', activeRunIds: reply.slice(1).map(String) };
      case 'stored': {
        const appended = events.stored(event, reply[1]!, reply[2]!, reply[4]!);
        return {
          outcome: 'stored',
          conversation: decodeConversation(pairs(reply[3]!)),
          message: { ...message, seq: appended.seq },
          event: appended,
        };
      }
      default:
        throw new Error(`unexpected reply to a send: ${JSON.stringify(reply)}`);
    }
  }
}

/** A route's conversation and claim. */
function splitRoute(route: string): [conversationId: string, claim: string] {
  const space = route.indexOf(' ');
  return [route.slice(0, space), route.slice(space + 1)];
}

/** Without a claim on a route, no commit is refused 'moved'. */
function settled(reply: CommitReply): SendOutcome {
  if (reply.outcome === 'moved') throw new Error('a send without a claim was refused as moved');
  return reply;
}
