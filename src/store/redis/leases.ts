import type { ClaimedLease, ExpiredLease, RunLeases } from '../interfaces.ts';
import { LuaScript, type RedisConnection, type Reply } from './connection.ts';

/**
 * Leases in four keys: `leases`, a sorted set of run ids scored by expiry (Redis server time,
 * ms, so that instances' clocks do not matter); `lease-info`, a hash from run id to
 * "<holder> <conversationId>"; and for fencing, `lease-epoch`, a hash from run id to the epoch
 * of its lease, drawn from the counter `lease-epochs` whenever the lease changes hands (a
 * release draws one too). The counter never goes below Redis' clock in microseconds, so that
 * epochs drawn after Redis lost its data (or failed over without its latest writes) are still
 * above every one drawn before: a store of record orders changes of hands by them.
 *
 * `NOW` sets the Lua variable `now`: Redis' clock in ms, which lease expiries are scored by.
 */
export const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** A Lua function drawing the next epoch from `counter` (see above). */
const DRAW_EPOCH_LUA = `
local function drawEpoch(counter)
  local t = redis.call('TIME')
  local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local epoch = redis.call('INCR', counter)
  if epoch < floor then
    redis.call('SET', counter, string.format('%d', floor))
    epoch = floor
  end
  return epoch
end
`;

/**
 * Lua functions for the scripts here, the atomic send (./sends.ts) and a run's start and
 * completion (./head-start.ts, ./run-completion.ts): acquiring a lease (`now` in ms; returns its
 * epoch), handing it to `holder` (a new epoch unless it holds it), and releasing it (only by
 * `holder`, or by anyone for ''; returns the release's epoch, or 0 when it was not `holder`'s).
 */
export const LEASE_LUA = `${DRAW_EPOCH_LUA}
local function releaseLease(set, info, epochs, counter, runId, holder)
  local current = redis.call('HGET', info, runId)
  if not current or (holder ~= '' and string.match(current, '^(%S+)') ~= holder) then return 0 end
  redis.call('ZREM', set, runId)
  redis.call('HDEL', info, runId)
  redis.call('HDEL', epochs, runId)
  return drawEpoch(counter)
end
local function handLease(info, epochs, counter, runId, conversationId, holder)
  local current = redis.call('HGET', info, runId)
  local epoch = redis.call('HGET', epochs, runId)
  if not epoch or not current or string.match(current, '^(%S+)') ~= holder then
    epoch = drawEpoch(counter)
    redis.call('HSET', epochs, runId, string.format('%d', epoch))
  end
  redis.call('HSET', info, runId, holder .. ' ' .. conversationId)
  return tonumber(epoch)
end
local function acquireLease(set, info, epochs, counter, runId, conversationId, holder, ttlMs, now)
  redis.call('ZADD', set, now + tonumber(ttlMs), runId)
  return handLease(info, epochs, counter, runId, conversationId, holder)
end
`;

/** KEYS: set, info, epochs, epoch counter. ARGV: run id, conversation id, holder, ttl ms. Returns the epoch. */
const ACQUIRE = new LuaScript(`${NOW}${LEASE_LUA}
return acquireLease(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4], now)
`);

/** KEYS: set, info. ARGV: run id, holder, ttl ms. */
const RENEW = new LuaScript(`${NOW}
local info = redis.call('HGET', KEYS[2], ARGV[1])
if not info or string.match(info, '^(%S+)') ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1
`);

/** KEYS: set, info, epochs, epoch counter. ARGV: run id, holder ('' for any). Returns the release's epoch, or 0. */
const RELEASE = new LuaScript(`${LEASE_LUA}
return releaseLease(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2])
`);

/** KEYS: set, info, epochs, epoch counter. ARGV: holder, ttl ms, limit. Returns {run id, conversation id, epoch, …}. */
const CLAIM_EXPIRED = new LuaScript(`${NOW}${LEASE_LUA}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, runId in ipairs(expired) do
  local info = redis.call('HGET', KEYS[2], runId)
  if info then
    local conversationId = string.match(info, '^%S+ (.*)$')
    local epoch = handLease(KEYS[2], KEYS[3], KEYS[4], runId, conversationId, ARGV[1])
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), runId)
    out[#out + 1] = runId
    out[#out + 1] = conversationId
    out[#out + 1] = epoch
  else
    redis.call('ZREM', KEYS[1], runId)
  end
end
return out
`);

/** KEYS: set, info, epochs, epoch counter. ARGV: holder, ttl ms, then run id, conversation id, … */
const ADOPT = new LuaScript(`${NOW}${LEASE_LUA}
for i = 3, #ARGV - 1, 2 do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then
    acquireLease(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[i], ARGV[i + 1], ARGV[1], ARGV[2], now)
  end
end
return 1
`);

export class RedisRunLeases implements RunLeases {
  /** The keys of `acquireLease`: the set of expiries, the holders, the epochs and their counter. */
  readonly keys: [string, string, string, string];

  constructor(private readonly redis: RedisConnection) {
    this.keys = redis.keys.leases;
  }

  /** Where each run's lease epoch is: appends fenced with an epoch check it (see RedisEventLog). */
  get epochs(): string {
    return this.keys[2];
  }

  async acquire(runId: string, conversationId: string, holder: string, ttlMs: number) {
    return Number(await this.redis.eval(ACQUIRE, this.keys, [runId, conversationId, holder, ttlMs]));
  }

  async renew(runId: string, holder: string, ttlMs: number) {
    return Number(await this.redis.eval(RENEW, this.keys.slice(0, 2), [runId, holder, ttlMs])) === 1;
  }

  async release(runId: string, holder: string | null) {
    return Number(await this.redis.eval(RELEASE, this.keys, [runId, holder ?? '']));
  }

  async claimExpired(holder: string, ttlMs: number, limit: number) {
    if (limit <= 0) return [];
    const reply = await this.redis.eval<Reply[]>(CLAIM_EXPIRED, this.keys, [holder, ttlMs, limit]);
    const claimed: ClaimedLease[] = [];
    for (let i = 0; i + 2 < reply.length; i += 3) claimed.push({ runId: String(reply[i]), conversationId: String(reply[i + 1]), epoch: Number(reply[i + 2]) });
    return claimed;
  }

  async adopt(runs: readonly ExpiredLease[], holder: string, ttlMs: number) {
    if (runs.length === 0) return;
    await this.redis.eval(ADOPT, this.keys, [holder, ttlMs, ...runs.flatMap((run) => [run.runId, run.conversationId])]);
  }
}
