import { LuaScript, type RedisConnection, type Reply } from './connection.ts';

/**
 * Deleting a conversation and everything of it in one script, so that no send or append sees
 * half of it: its hash and its place in its owner's index, its messages (each also stored by
 * id, `msg:<id>`), its runs (`run:<id>`) and their queue, its event stream, seq counter and epoch, and
 * the idempotency keys of its sends (listed in `c:{id}:idem` by the send script), and its input
 * requests (`input:<id>`, listed in `c:{id}:requests`; pending ones also in `c:{id}:inputs` and,
 * with a due time, in `inputs-due`).
 *
 * KEYS: the conversation hash, its messages, its runs, its queue, its stream, its counter, its
 * idempotency keys, its requests, its pending requests, the due set, its log's epoch. ARGV: key prefix. Returns {0}
 * when there is no such conversation, else {1, run id, …}.
 */
const DELETE = new LuaScript(`
local ownerIndex = redis.call('HGET', KEYS[1], 'ownerIndex')
if not ownerIndex then return {0} end
redis.call('ZREM', ownerIndex, redis.call('HGET', KEYS[1], 'id'))
for _, json in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', ARGV[1] .. 'msg:' .. cjson.decode(json).id)
end
local out = {1}
for _, id in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
  redis.call('DEL', ARGV[1] .. 'run:' .. id)
  out[#out + 1] = id
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[7])) do redis.call('DEL', key) end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[8])) do
  redis.call('DEL', ARGV[1] .. 'input:' .. id)
  redis.call('ZREM', KEYS[10], id)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[11])
return out
`);

/** Deletes the conversation `id` and everything of it; the ids of its runs, or null when there was none. */
export async function deleteConversation(redis: RedisConnection, id: string): Promise<string[] | null> {
  const keys = [
    redis.conversationKey(id),
    ...(['msgs', 'runs', 'queue', 'ev', 'seq', 'idem', 'requests', 'inputs'] as const).map((part) => redis.conversationKey(id, part)),
    redis.key('inputs-due'),
    redis.conversationKey(id, 'epoch'),
  ];
  const reply = await redis.eval<Reply[]>(DELETE, keys, [redis.prefix]);
  return Number(reply[0]) === 0 ? null : reply.slice(1).map(String);
}
