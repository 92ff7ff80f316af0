import { APPEND_LUA, type RedisEventLog } from './event-log.ts';
import type { NewEvent } from '../../domain/events.ts';
import type { NewSend, SendOutcome, SendStore } from '../interfaces.ts';
import type { SendReservation } from '../../domain/records.ts';
import { LuaScript, pairs, type RedisConnection, type Reply } from './connection.ts';
import { CONVERSATION_LUA, decode as decodeConversation, type RedisConversationStore } from './conversations.ts';
import { LEASE_LUA, type RedisRunLeases } from './leases.ts';
import { MESSAGE_LUA, type RedisMessageStore } from './messages.ts';
import { RUN_LUA, encode as encodeRun, type RedisRunQueue, type RedisRunStore } from './runs.ts';

/**
 * A send in one script, so that Redis runs it as one atomic step (and writes it to the AOF as
 * one transaction): every check comes before the first write, so that nothing is left half
 * stored, whatever dies when. The writes are the other stores' own Lua functions.
 *
 * KEYS: idempotency key, conversation hash, owner index, event stream, seq counter, message by
 * id, conversation's messages, run hash, conversation's runs, run queue, then `acquireLease`'s
 * four keys, then the conversation's idempotency keys, then its log's epoch.
 * ARGV: key prefix, max active runs, key TTL ms, stored ids JSON ('' without a key),
 * conversation id, owner JSON, createdAt, updatedAt, updatedAt score, title, then `appendEvent`'s
 * body, max events, max age ms and channel, the message JSON up to its seq, run id, lease
 * holder, lease TTL ms, then the run's fields (field, value, …).
 * Returns {'repeated', stored ids JSON}, {'not-owner'}, {'busy', active run id, …} or
 * {'stored', seq, timestamp ms, conversation hash}.
 */
const COMMIT = new LuaScript(`${APPEND_LUA}${CONVERSATION_LUA}${MESSAGE_LUA}${RUN_LUA}${LEASE_LUA}
if ARGV[4] ~= '' then
  local stored = redis.call('HGET', KEYS[1], 'r')
  if stored then return {'repeated', stored} end
end
local exists = redis.call('EXISTS', KEYS[2]) == 1
if exists and redis.call('HGET', KEYS[2], 'ownerIndex') ~= KEYS[3] then return {'not-owner'} end
local active = activeRuns(KEYS[10], ARGV[1])
if #active >= tonumber(ARGV[2]) then return {'busy', unpack(active)} end

if not exists then createConversation(KEYS[2], KEYS[3], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], '') end
local seq, now = appendEvent(KEYS[4], KEYS[5], KEYS[16], ARGV[11], ARGV[12], ARGV[13], ARGV[14])
addMessage(KEYS[6], KEYS[7], ARGV[15] .. seq .. '}', seq)
touchConversation(KEYS[2], ARGV[8], ARGV[9], ARGV[10])
createRun(KEYS[8], KEYS[9], ARGV[16], {unpack(ARGV, 19)})
redis.call('RPUSH', KEYS[10], ARGV[16])
acquireLease(KEYS[11], KEYS[12], KEYS[13], KEYS[14], ARGV[16], ARGV[5], ARGV[17], ARGV[18], now)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'r', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  -- Listed with the conversation, so that deleting it forgets the key too.
  redis.call('SADD', KEYS[15], KEYS[1])
  redis.call('PEXPIRE', KEYS[15], ARGV[3])
end
return {'stored', seq, now, redis.call('HGETALL', KEYS[2])}
`);

export interface RedisSendStores {
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

  async commit(send: NewSend): Promise<SendOutcome> {
    const { conversations, messages, runs, runQueue, leases, events } = this.stores;
    const { conversation, message, run } = send;
    const event: NewEvent = { type: 'MessageCreated', conversationId: conversation.id, runId: run.id, agentId: null, message };
    const stored: SendReservation = { conversationId: conversation.id, messageId: message.id, runId: run.id };
    const { seq: _numberedByTheLog, ...unnumbered } = message;
    const keys = [
      this.redis.key('idem', send.idempotencyKey ?? ''),
      this.redis.conversationKey(conversation.id),
      conversations.ownerIndex(conversation.owner),
      ...events.appendKeys(conversation.id),
      ...messages.keys(message),
      ...runs.keys(run),
      runQueue.queue(conversation.id),
      ...leases.keys,
      this.redis.conversationKey(conversation.id, 'idem'),
      events.epochKey(conversation.id),
    ];
    const updatedAt = message.createdAt;
    const args = [
      this.redis.prefix,
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
      `${JSON.stringify(unnumbered).slice(0, -1)},"seq":`,
      run.id,
      send.lease.holder,
      send.lease.ttlMs,
      ...encodeRun(run),
    ];
    const reply = await this.redis.eval<Reply[]>(COMMIT, keys, args);
    switch (reply[0]) {
      case 'repeated':
        return { outcome: 'repeated', stored: JSON.parse(String(reply[1])) as SendReservation };
      case 'not-owner':
        return { outcome: 'not-owner' };
      case 'busy':
        return { outcome: 'busy', activeRunIds: reply.slice(1).map(String) };
      case 'stored': {
        const appended = events.stored(event, reply[1]!, reply[2]!);
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
