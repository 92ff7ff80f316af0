import type { ExpiredLease, RunLeases } from '../interfaces.ts';
import { LuaScript, type RedisConnection, type Reply } from './connection.ts';

/**
 * Leases in two keys: `leases`, a sorted set of run ids scored by expiry (Redis server time,
 * ms, so that instances' clocks do not matter), and `lease-info`, a hash from run id to
 * "<holder> <conversationId>".
 */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** A Lua function for the script here and for the atomic send (./sends.ts); `now` in ms. */
export const LEASE_LUA = `
local function acquireLease(set, info, runId, conversationId, holder, ttlMs, now)
  redis.call('ZADD', set, now + tonumber(ttlMs), runId)
  redis.call('HSET', info, runId, holder .. ' ' .. conversationId)
end
`;

/** KEYS: set, info. ARGV: run id, conversation id, holder, ttl ms. */
const ACQUIRE = new LuaScript(`${NOW}${LEASE_LUA}
acquireLease(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], now)
return 1
`);

/** KEYS: set, info. ARGV: run id, holder, ttl ms. */
const RENEW = new LuaScript(`${NOW}
local info = redis.call('HGET', KEYS[2], ARGV[1])
if not info or string.match(info, '^(%S+)') ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1
`);

/** KEYS: set, info. ARGV: run id, holder ('' for any). */
const RELEASE = new LuaScript(`
local info = redis.call('HGET', KEYS[2], ARGV[1])
if info and ARGV[2] ~= '' and string.match(info, '^(%S+)') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`);

/** KEYS: set, info. ARGV: holder, ttl ms, limit. Returns {run id, conversation id, …}. */
const CLAIM_EXPIRED = new LuaScript(`${NOW}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, runId in ipairs(expired) do
  local info = redis.call('HGET', KEYS[2], runId)
  if info then
    local conversationId = string.match(info, '^%S+ (.*)$')
    redis.call('HSET', KEYS[2], runId, ARGV[1] .. ' ' .. conversationId)
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), runId)
    out[#out + 1] = runId
    out[#out + 1] = conversationId
  else
    redis.call('ZREM', KEYS[1], runId)
  end
end
return out
`);

export class RedisRunLeases implements RunLeases {
  /** The keys of `acquireLease`: the set of expiries, and the holders. */
  readonly keys: [string, string];

  constructor(private readonly redis: RedisConnection) {
    this.keys = [redis.key('leases'), redis.key('lease-info')];
  }

  async acquire(runId: string, conversationId: string, holder: string, ttlMs: number) {
    await this.redis.eval(ACQUIRE, this.keys, [runId, conversationId, holder, ttlMs]);
  }

  async renew(runId: string, holder: string, ttlMs: number) {
    return Number(await this.redis.eval(RENEW, this.keys, [runId, holder, ttlMs])) === 1;
  }

  async release(runId: string, holder: string | null) {
    await this.redis.eval(RELEASE, this.keys, [runId, holder ?? '']);
  }

  async claimExpired(holder: string, ttlMs: number, limit: number) {
    if (limit <= 0) return [];
    const reply = await this.redis.eval<Reply[]>(CLAIM_EXPIRED, this.keys, [holder, ttlMs, limit]);
    const claimed: ExpiredLease[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) claimed.push({ runId: String(reply[i]), conversationId: String(reply[i + 1]) });
    return claimed;
  }
}
