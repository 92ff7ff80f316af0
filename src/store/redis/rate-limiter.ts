import type { RateLimiter } from '../interfaces.ts';
import { LuaScript, type RedisConnection } from './connection.ts';

/**
 * A Lua function for the script here and for the atomic send (./sends.ts): counts one hit in
 * the window `counter` (which expires with the window); returns the count and the ms until the
 * window resets.
 */
export const RATE_LUA = `
local function hitWindow(counter, windowMs)
  local count = redis.call('INCR', counter)
  local ttl = redis.call('PTTL', counter)
  if ttl < 0 then
    redis.call('PEXPIRE', counter, windowMs)
    ttl = tonumber(windowMs)
  end
  return count, ttl
end
`;

/** KEYS: counter. ARGV: window ms. Returns {count, ms until the window resets}. */
const HIT = new LuaScript(`${RATE_LUA}
local count, ttl = hitWindow(KEYS[1], ARGV[1])
return {count, ttl}
`);

/** Fixed windows shared by every instance: a counter per key that expires with its window. */
export class RedisRateLimiter implements RateLimiter {
  constructor(private readonly redis: RedisConnection) {}

  async hit(key: string, limit: number, windowMs: number) {
    const [count, ttl] = await this.redis.eval<[number, number]>(HIT, [this.redis.keys.rateWindow(key)], [windowMs]);
    return Number(count) <= limit ? { allowed: true, retryAfterMs: 0 } : { allowed: false, retryAfterMs: Number(ttl) };
  }
}
