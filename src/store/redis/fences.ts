import type { RunFences } from '../interfaces.ts';
import { LuaScript, type RedisConnection } from './connection.ts';
import type { RedisLocator } from './locator.ts';

/**
 * The fence of the Redis store of record on a cluster: each run's fence epoch and holder kept
 * in its conversation's slot (`c:{conversationId}:fence`: field `<runId>`, the epoch,
 * `<runId>:holder`, and `<runId>:handover`, the lease epoch of the change of hands recorded
 * last, which orders them), where the append script checks it (./event-log.ts), instead of the
 * leases' epochs, which are in the leases' own slot.
 *
 * The leases stay in the live layer, and whenever one changes hands the new holder is recorded
 * here before it is told it holds the run (see `fencedLeases` in ../compose.ts): an acquire, a
 * takeover by a sweep, a release (to nobody). So an executor whose run was taken over is fenced
 * off before its successor does anything, as on one Redis, where the lease and its epoch move in
 * one step. A fence epoch is counted per run, in that run's conversation, and only grows, so a
 * holder that lost the run never finds its epoch again.
 *
 * On one Redis there is none: the leases' epochs are within the append script's reach.
 */

/**
 * KEYS: fence hash, run hash. ARGV: run id, holder, handover (the lease epoch of the change of
 * hands). Returns the epoch, or 0 when there is no such run or a later change of hands is
 * recorded already (field `<runId>:handover`).
 */
const FENCE = new LuaScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':handover') or '0') > tonumber(ARGV[3]) then return 0 end
local epoch = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if epoch == 0 or redis.call('HGET', KEYS[1], ARGV[1] .. ':holder') ~= ARGV[2] then
  epoch = epoch + 1
  redis.call('HSET', KEYS[1], ARGV[1], epoch, ARGV[1] .. ':holder', ARGV[2])
end
redis.call('HSET', KEYS[1], ARGV[1] .. ':handover', ARGV[3])
return epoch
`);

export class RedisRunFences implements RunFences {
  constructor(
    private readonly redis: RedisConnection,
    private readonly locator: RedisLocator,
  ) {}

  /**
   * A run that is not (or no longer) stored has nothing to fence: 0, an epoch never given. (A
   * sweep may claim the lease of a run whose send was refused after its lease was taken, see
   * ./sends.ts, or whose conversation was deleted.)
   */
  async fence(runId: string, holder: string, handover: number): Promise<number> {
    const conversationId = await this.locator.where('run', runId);
    if (conversationId === null) return 0;
    const keys = [this.redis.conversationKey(conversationId, 'fence'), this.redis.keys.record('run', conversationId, runId)];
    return Number(await this.redis.eval(FENCE, keys, [runId, holder, handover]));
  }
}
