import type { HeadStart } from '../interfaces.ts';
import { runQueueLock } from '../interfaces.ts';
import { allowedFrom } from '../../domain/run-states.ts';
import { LuaScript, type RedisConnection, type Reply } from './connection.ts';
import { LEASE_LUA, NOW, type RedisRunLeases } from './leases.ts';
import { decode, luaStatusSet } from './runs.ts';

/**
 * Starting a conversation's head run in one round trip, on one Redis, where its queue, the run,
 * its lease and the queue's lock are all within one script's reach (see `inReach` in ./keys.ts).
 *
 * The scheduler's long way is five round trips one after the other: take the queue's lock, read
 * the head, take the head run's lease, move the run to RUNNING, let go of the lock. The script
 * does the same in one atomic step, and only when nobody holds the lock: a holder is part way
 * through its own steps (the long way, settling a run that ended in the queue, deleting the
 * conversation), which must not interleave with these. Then it changes nothing and says so. When
 * the head is not a run the scheduler may start, it changes nothing and answers the head as it
 * found it, as the long way would have read it under the lock that nobody held.
 *
 * KEYS: queue, the queue's lock, then `acquireLease`'s four keys.
 * ARGV: run prefix, holder, conversation id, lease TTL ms, startedAt (JSON), for a run that has
 * never started.
 * Returns {'started', lease epoch, 1 when the run had started before (a resumed run), the run's
 * hash}, {'found', head run id, its hash (empty when gone)}, {'found'} for an empty queue, or
 * {'locked'}.
 */
const START_HEAD = new LuaScript(`${NOW}${LEASE_LUA}
local STARTABLE = ${luaStatusSet(allowedFrom('scheduler', 'RUNNING'))}
if redis.call('EXISTS', KEYS[2]) == 1 then return {'locked'} end
local id = redis.call('LINDEX', KEYS[1], 0)
if not id then return {'found'} end
local run = ARGV[1] .. id
if not STARTABLE[redis.call('HGET', run, 'status')] then return {'found', id, redis.call('HGETALL', run)} end
local startedAt = redis.call('HGET', run, 'startedAt')
local resumed = startedAt and startedAt ~= 'null'
local epoch = acquireLease(KEYS[3], KEYS[4], KEYS[5], KEYS[6], id, ARGV[3], ARGV[2], ARGV[4], now)
redis.call('HSET', run, 'status', ${JSON.stringify(JSON.stringify('RUNNING'))})
if not resumed then redis.call('HSET', run, 'startedAt', ARGV[5]) end
return {'started', epoch, resumed and 1 or 0, redis.call('HGETALL', run)}
`);

export class RedisHeadStart {
  constructor(
    private readonly redis: RedisConnection,
    private readonly leases: RedisRunLeases,
  ) {
    if (!redis.keys.inReach) throw new Error("a head run starts in one script only where the queue's lock and the leases are within its reach (one Redis)");
  }

  async start(conversationId: string, holder: string, leaseMs: number, startedAt: string): Promise<HeadStart> {
    const { keys } = this.redis;
    const reply = await this.redis.eval<Reply[]>(
      START_HEAD,
      [this.redis.conversationKey(conversationId, 'queue'), keys.lock(runQueueLock(conversationId)), ...this.leases.keys],
      [keys.recordPrefix('run', conversationId), holder, conversationId, leaseMs, JSON.stringify(startedAt)],
    );
    if (reply[0] === 'locked') return { outcome: 'locked' };
    if (reply[0] === 'found') return { outcome: 'found', head: reply.length === 1 ? null : { runId: String(reply[1]), run: decode(reply[2]!) } };
    const run = decode(reply[3]!);
    if (run === null) throw new Error(`the head run of conversation ${conversationId} vanished while it started`);
    return { outcome: 'started', started: { run, leaseEpoch: Number(reply[1]), resumed: Number(reply[2]) === 1 } };
  }
}
