import type { ConversationStore } from '../interfaces.ts';
import { ownerKey } from '../owner.ts';
import type { ConversationRecord, Owner } from '../../domain/records.ts';
import { LuaScript, pairs, type RedisConnection, type Reply } from './connection.ts';

/**
 * A conversation is a hash (`c:{id}`) with fields id, owner (JSON), title (absent while null),
 * createdAt, updatedAt and ownerIndex: the name of its owner's sorted set (`owner:<ownerKey>`),
 * whose members are conversation ids scored by updatedAt (ms), for listing most recent first.
 *
 * On one Redis the scripts that create or touch a conversation update its owner's set in the
 * same step. On a cluster that set is in another slot (one per owner, where the conversations
 * are spread by id), so it is updated by a call of its own right after the conversation's
 * script, with ZADD GT (a score only moves forward, whichever of two touches lands last): a
 * listing may miss a conversation created a moment ago, or show it a moment in its old place.
 * Should the process die in between, the next touch (a send, a run's reply) puts it right;
 * a listing skips ids whose conversation is gone.
 */

/**
 * Lua functions for the scripts here and for the atomic send (./sends.ts): creating a
 * conversation (title '' for none), and touching it (see `touch`; false when it does not exist).
 * `indexed` is '1' when the owner's set is within the script's reach (one Redis).
 */
export const CONVERSATION_LUA = `
local function createConversation(hash, ownerIndex, indexed, id, owner, createdAt, updatedAt, score, title)
  redis.call('HSET', hash, 'id', id, 'owner', owner, 'createdAt', createdAt, 'updatedAt', updatedAt, 'ownerIndex', ownerIndex)
  if title ~= '' then redis.call('HSET', hash, 'title', title) end
  if indexed == '1' then redis.call('ZADD', ownerIndex, score, id) end
end
local function touchConversation(hash, indexed, updatedAt, score, title)
  local current = redis.call('HGET', hash, 'updatedAt')
  if not current then return false end
  if updatedAt > current then
    redis.call('HSET', hash, 'updatedAt', updatedAt)
    if indexed == '1' then redis.call('ZADD', redis.call('HGET', hash, 'ownerIndex'), score, redis.call('HGET', hash, 'id')) end
  end
  if title ~= '' and redis.call('HEXISTS', hash, 'title') == 0 then
    redis.call('HSET', hash, 'title', title)
  end
  return true
end
`;

/**
 * KEYS: hash, then the owner index when within reach. ARGV: id, owner JSON, createdAt, updatedAt,
 * score, title ('' for none), owner index, '1' when within reach. Returns {created, fields}.
 */
const CREATE_IF_ABSENT = new LuaScript(`${CONVERSATION_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('HGETALL', KEYS[1])} end
createConversation(KEYS[1], ARGV[7], ARGV[8], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return {1, redis.call('HGETALL', KEYS[1])}
`);

/**
 * KEYS: hash. ARGV: updatedAt, score, title ('' for none), '1' when the owner index is within
 * reach. Returns the name of the owner index, or nil when there is no such conversation.
 */
const TOUCH = new LuaScript(`${CONVERSATION_LUA}
if touchConversation(KEYS[1], ARGV[4], ARGV[1], ARGV[2], ARGV[3]) then return redis.call('HGET', KEYS[1], 'ownerIndex') end
return nil
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
    const ownerIndex = this.ownerIndex(conversation.owner);
    const { inReach } = this.redis.keys;
    const [created, fields] = await this.redis.eval<[number, Reply]>(
      CREATE_IF_ABSENT,
      inReach ? [this.redis.conversationKey(conversation.id), ownerIndex] : [this.redis.conversationKey(conversation.id)],
      [
        conversation.id,
        JSON.stringify(conversation.owner),
        conversation.createdAt,
        conversation.updatedAt,
        Date.parse(conversation.updatedAt),
        conversation.title ?? '',
        ownerIndex,
        inReach ? '1' : '',
      ],
    );
    const stored = decode(pairs(fields));
    // Also when it was there: its creator may have died before listing it.
    await this.listed(stored);
    return { conversation: stored, created: Number(created) === 1 };
  }

  /**
   * On a cluster, puts the conversation in its owner's list at its updatedAt, after the script
   * that changed it (see above); on one Redis that script did it already.
   */
  async listed(conversation: Pick<ConversationRecord, 'id' | 'owner' | 'updatedAt'>): Promise<void> {
    if (this.redis.keys.inReach) return;
    await this.redis.command(['ZADD', this.ownerIndex(conversation.owner), 'GT', Date.parse(conversation.updatedAt), conversation.id]);
  }

  async get(id: string) {
    const fields = pairs(await this.redis.command(['HGETALL', this.redis.conversationKey(id)]));
    return fields['id'] === undefined ? null : decode(fields);
  }

  async listForOwner(owner: Owner, first: number) {
    if (first <= 0) return [];
    if (this.redis.keys.inReach) {
      const reply = await this.redis.eval<Reply[]>(LIST_FOR_OWNER, [this.ownerIndex(owner)], [first, this.redis.prefix]);
      return reply.map((fields) => decode(pairs(fields)));
    }
    // On a cluster the conversations are in slots of their own: one read each, at once.
    const ids = await this.redis.command<string[]>(['ZREVRANGE', this.ownerIndex(owner), 0, first - 1]);
    const found = await Promise.all(ids.map((id) => this.get(id)));
    return found.filter((conversation): conversation is ConversationRecord => conversation !== null);
  }

  async touch(id: string, updatedAt: string, title?: string) {
    const { inReach } = this.redis.keys;
    const score = Date.parse(updatedAt);
    const ownerIndex = await this.redis.eval<string | null>(TOUCH, [this.redis.conversationKey(id)], [updatedAt, score, title ?? '', inReach ? '1' : '']);
    if (ownerIndex !== null && !inReach) await this.redis.command(['ZADD', ownerIndex, 'GT', score, id]);
  }

  ownerIndex(owner: Owner) {
    return this.redis.keys.ownerIndex(ownerKey(owner));
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
