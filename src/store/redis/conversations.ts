import type { ConversationStore } from '../interfaces.ts';
import { ownerKey } from '../owner.ts';
import type { ConversationRecord, Owner } from '../../domain/records.ts';
import { LuaScript, pairs, type RedisConnection, type Reply } from './connection.ts';

/**
 * A conversation is a hash (`c:{id}`) with fields id, owner (JSON), title (absent while null),
 * createdAt, updatedAt and ownerIndex: the name of its owner's sorted set (`owner:<ownerKey>`),
 * whose members are conversation ids scored by updatedAt (ms), for listing most recent first.
 */

/**
 * Lua functions for the scripts here and for the atomic send (./sends.ts): creating a
 * conversation (title '' for none), and touching it (see `touch`; false when it does not exist).
 */
export const CONVERSATION_LUA = `
local function createConversation(hash, ownerIndex, id, owner, createdAt, updatedAt, score, title)
  redis.call('HSET', hash, 'id', id, 'owner', owner, 'createdAt', createdAt, 'updatedAt', updatedAt, 'ownerIndex', ownerIndex)
  if title ~= '' then redis.call('HSET', hash, 'title', title) end
  redis.call('ZADD', ownerIndex, score, id)
end
local function touchConversation(hash, updatedAt, score, title)
  local current = redis.call('HGET', hash, 'updatedAt')
  if not current then return false end
  if updatedAt > current then
    redis.call('HSET', hash, 'updatedAt', updatedAt)
    redis.call('ZADD', redis.call('HGET', hash, 'ownerIndex'), score, redis.call('HGET', hash, 'id'))
  end
  if title ~= '' and redis.call('HEXISTS', hash, 'title') == 0 then
    redis.call('HSET', hash, 'title', title)
  end
  return true
end
`;

/** KEYS: hash, owner index. ARGV: id, owner JSON, createdAt, updatedAt, score, title ('' for none). Returns {created, fields}. */
const CREATE_IF_ABSENT = new LuaScript(`${CONVERSATION_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('HGETALL', KEYS[1])} end
createConversation(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return {1, redis.call('HGETALL', KEYS[1])}
`);

/** KEYS: hash. ARGV: updatedAt, score, title ('' for none). */
const TOUCH = new LuaScript(`${CONVERSATION_LUA}
if touchConversation(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 1 end
return 0
`);

/** KEYS: owner index. ARGV: first, key prefix. Returns the hashes, most recently updated first. */
const LIST_FOR_OWNER = new LuaScript(`
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local fields = redis.call('HGETALL', ARGV[2] .. 'c:{' .. id .. '}')
  if #fields > 0 then out[#out + 1] = fields end
end
return out
`);

export class RedisConversationStore implements ConversationStore {
  constructor(private readonly redis: RedisConnection) {}

  async createIfAbsent(conversation: ConversationRecord) {
    const [created, fields] = await this.redis.eval<[number, Reply]>(
      CREATE_IF_ABSENT,
      [this.redis.conversationKey(conversation.id), this.ownerIndex(conversation.owner)],
      [
        conversation.id,
        JSON.stringify(conversation.owner),
        conversation.createdAt,
        conversation.updatedAt,
        Date.parse(conversation.updatedAt),
        conversation.title ?? '',
      ],
    );
    return { conversation: decode(pairs(fields)), created: Number(created) === 1 };
  }

  async get(id: string) {
    const fields = pairs(await this.redis.command(['HGETALL', this.redis.conversationKey(id)]));
    return fields['id'] === undefined ? null : decode(fields);
  }

  async listForOwner(owner: Owner, first: number) {
    if (first <= 0) return [];
    const reply = await this.redis.eval<Reply[]>(LIST_FOR_OWNER, [this.ownerIndex(owner)], [first, this.redis.prefix]);
    return reply.map((fields) => decode(pairs(fields)));
  }

  async touch(id: string, updatedAt: string, title?: string) {
    await this.redis.eval(TOUCH, [this.redis.conversationKey(id)], [updatedAt, Date.parse(updatedAt), title ?? '']);
  }

  ownerIndex(owner: Owner) {
    return this.redis.key('owner', ownerKey(owner));
  }
}

export function decode(fields: Record<string, string>): ConversationRecord {
  return {
    id: fields['id']!,
    owner: JSON.parse(fields['owner']!) as Owner,
    title: fields['title'] ?? null,
    createdAt: fields['createdAt']!,
    updatedAt: fields['updatedAt']!,
  };
}
