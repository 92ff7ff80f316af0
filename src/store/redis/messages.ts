import type { MessageStore } from '../interfaces.ts';
import type { MessageRecord } from '../../domain/records.ts';
import { LuaScript, type RedisConnection } from './connection.ts';
import type { RedisLocator } from './locator.ts';

/**
 * A message is stored twice: by id (`msg:<id>` on one Redis, `c:{conversationId}:msg:<id>` on a
 * cluster: see ./keys.ts; its JSON) and in its conversation's sorted set (`c:{conversationId}:msgs`,
 * the same JSON scored by seq), so that the last N are one ZRANGE.
 */

/** A Lua function for the script here and for the atomic send (./sends.ts). */
export const MESSAGE_LUA = `
local function addMessage(byId, conversationSet, json, seq)
  redis.call('SET', byId, json)
  redis.call('ZADD', conversationSet, seq, json)
end
`;

/** KEYS: by id, conversation set. ARGV: JSON, seq. */
const ADD = new LuaScript(`${MESSAGE_LUA}
addMessage(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
`);

/**
 * A run's history in one round trip: the last ARGV[2] messages of the set with a seq up to that
 * of the message stored by id (the newest when there is none). KEYS: by id, conversation set.
 */
const LIST_LAST_THROUGH = new LuaScript(`
local json = redis.call('GET', KEYS[1])
local through = '+inf'
if json then through = cjson.decode(json).seq end
return redis.call('ZRANGE', KEYS[2], through, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, tonumber(ARGV[1]))
`);

export class RedisMessageStore implements MessageStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly locator: RedisLocator,
  ) {}

  async add(message: MessageRecord) {
    const json = JSON.stringify(message);
    await this.locator.index('msg', message.id, message.conversationId);
    await this.redis.eval(ADD, this.keys(message), [json, message.seq]);
  }

  /** The keys of `addMessage`: by id, and the conversation's set. */
  keys(message: Pick<MessageRecord, 'id' | 'conversationId'>): [string, string] {
    return [this.redis.keys.record('msg', message.conversationId, message.id), this.redis.conversationKey(message.conversationId, 'msgs')];
  }

  async listLast(conversationId: string, last: number, throughSeq?: number) {
    if (last <= 0) return [];
    // Newest first from throughSeq down, at most `last`: the read is as long as the window.
    const reply = await this.redis.command<string[]>([
      'ZRANGE',
      this.redis.conversationKey(conversationId, 'msgs'),
      throughSeq ?? '+inf',
      '-inf',
      'BYSCORE',
      'REV',
      'LIMIT',
      0,
      last,
    ]);
    return reply.reverse().map((json) => JSON.parse(json) as MessageRecord);
  }

  async listLastThrough(conversationId: string, last: number, messageId: string) {
    if (last <= 0) return [];
    const reply = await this.redis.eval<string[]>(LIST_LAST_THROUGH, this.keys({ id: messageId, conversationId }), [last]);
    return reply.reverse().map((json) => JSON.parse(json) as MessageRecord);
  }

  async get(id: string) {
    const conversationId = await this.locator.where('msg', id);
    if (conversationId === null) return null;
    const json = await this.redis.command<string | null>(['GET', this.redis.keys.record('msg', conversationId, id)]);
    return json === null ? null : (JSON.parse(json) as MessageRecord);
  }
}
