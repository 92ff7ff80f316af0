import { randomUUID } from 'node:crypto';
import { LuaScript, type RedisConnection } from './connection.ts';

/**
 * The generation of the data in Redis: a key that is there until that data is lost (a flushed
 * Redis, or one restarted without persistence), as a Lua function for the script here and for a
 * run's start (./head-start.ts). `fresh` becomes the generation when there is none.
 */
export const GENERATION_LUA = `
local function liveGeneration(key, fresh)
  local current = redis.call('GET', key)
  if current then return current end
  redis.call('SET', key, fresh)
  return fresh
end
`;

/** KEYS: the generation key. ARGV: a fresh id. */
const GENERATION = new LuaScript(`${GENERATION_LUA}
return liveGeneration(KEYS[1], ARGV[1])
`);

export async function liveGeneration(redis: RedisConnection): Promise<string> {
  return String(await redis.eval(GENERATION, [redis.keys.generation], [randomUUID()]));
}
