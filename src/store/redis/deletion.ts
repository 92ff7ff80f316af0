import { LuaScript, type RedisConnection, type Reply } from './connection.ts';
import type { RedisLocator } from './locator.ts';

/**
 * Deleting a conversation and everything of it in one script of the conversation's, so that no
 * send or append sees half of it: its hash, its messages, its runs and their queue, its event
 * stream, seq counter and epoch, the idempotency records of its sends (listed in `c:{id}:idem` by the
 * send script), its input requests (listed in `c:{id}:requests`; pending ones also in
 * `c:{id}:inputs`) and, on a cluster, its runs' fences. Messages, runs and requests are named
 * from their prefixes (see `RedisKeys.recordPrefix`).
 *
 * On one Redis (`inReach`) the same script also takes the conversation out of its owner's list
 * and its requests out of `inputs-due`, and the records by id and idempotency records are its
 * own keys. On a cluster those are in other slots: the script answers what they are, and they
 * are dropped after it by calls of their own (the owner's list, the due set, the records'
 * indexes, and the idempotency routes that still lead here). Should the process die in between,
 * what is left names a conversation that is gone, which every reader takes as nothing: a
 * listing skips it, an index leads to no record, a route to no idempotency record (the next
 * send with that key claims it anew), and a due request that is gone is dropped by the sweep.
 *
 * KEYS: the conversation hash, its messages, its runs, its queue, its stream, its counter, its
 * idempotency records, its requests, its pending requests, its fences, its log's epoch, then
 * within reach the due set. ARGV: message prefix, run prefix, input prefix. Returns nil when there is no such
 * conversation, else JSON: {ownerIndex, runs, messages, inputs, idem} (ids, and the names of the
 * idempotency records).
 */
const DELETE = new LuaScript(`
local ownerIndex = redis.call('HGET', KEYS[1], 'ownerIndex')
if not ownerIndex then return nil end
local inReach = #KEYS > 11
if inReach then redis.call('ZREM', ownerIndex, redis.call('HGET', KEYS[1], 'id')) end
local out = {ownerIndex = ownerIndex, runs = {}, messages = {}, inputs = {}, idem = {}}
for _, json in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local id = cjson.decode(json).id
  redis.call('DEL', ARGV[1] .. id)
  out.messages[#out.messages + 1] = id
end
for _, id in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
  redis.call('DEL', ARGV[2] .. id)
  out.runs[#out.runs + 1] = id
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[7])) do
  redis.call('DEL', key)
  out.idem[#out.idem + 1] = key
end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[8])) do
  redis.call('DEL', ARGV[3] .. id)
  if inReach then redis.call('ZREM', KEYS[12], id) end
  out.inputs[#out.inputs + 1] = id
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11])
return cjson.encode(out)
`);

/** KEYS: an idempotency route. ARGV: the conversation it must lead to. Deletes it if it does. */
const DELETE_ROUTE = new LuaScript(`
local route = redis.call('GET', KEYS[1])
if route and string.sub(route, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then redis.call('DEL', KEYS[1]) end
return 1
`);

interface Deleted {
  ownerIndex: string;
  runs: string[];
  messages: string[];
  inputs: string[];
  idem: string[];
}

/** Deletes the conversation `id` and everything of it; the ids of its runs, or null when there was none. */
export async function deleteConversation(redis: RedisConnection, locator: RedisLocator, id: string): Promise<string[] | null> {
  const { keys } = redis;
  const slotKeys = [
    redis.conversationKey(id),
    ...(['msgs', 'runs', 'queue', 'ev', 'seq', 'idem', 'requests', 'inputs', 'fence', 'epoch'] as const).map((part) => redis.conversationKey(id, part)),
  ];
  const reply = await redis.eval<Reply>(DELETE, keys.inReach ? [...slotKeys, keys.inputsDue] : slotKeys, [
    keys.recordPrefix('msg', id),
    keys.recordPrefix('run', id),
    keys.recordPrefix('input', id),
  ]);
  if (reply === null) return null;
  const raw = JSON.parse(String(reply)) as Record<keyof Deleted, unknown>;
  // cjson writes an empty list as {}.
  const list = (value: unknown) => (Array.isArray(value) ? (value as string[]) : []);
  const deleted: Deleted = {
    ownerIndex: String(raw.ownerIndex),
    runs: list(raw.runs),
    messages: list(raw.messages),
    inputs: list(raw.inputs),
    idem: list(raw.idem),
  };
  if (!keys.inReach) {
    await Promise.all([
      redis.command(['ZREM', deleted.ownerIndex, id]),
      deleted.inputs.length > 0 && redis.command(['ZREM', keys.inputsDue, ...deleted.inputs]),
      locator.forget('run', deleted.runs),
      locator.forget('msg', deleted.messages),
      locator.forget('input', deleted.inputs),
      ...deleted.idem.map((record) => redis.eval(DELETE_ROUTE, [keys.idempotencyRoute(keys.idempotencyKeyOf(record, id))], [id])),
    ]);
  }
  return deleted.runs;
}
