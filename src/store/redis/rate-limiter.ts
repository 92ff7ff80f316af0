import type { RateLimiter } from '../interfaces.ts';
import { LuaScript, type RedisConnection } from './connection.ts';

/** KEYS: counter. ARGV: window ms. Returns {count, ms until the window resets}. */
const HIT = new LuaScript(`
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
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
