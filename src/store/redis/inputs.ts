import { ANSWERABLE_STATUSES, allowedFrom } from '../../domain/run-states.ts';
import { OPEN_INPUT_STATUS, settledBy } from '../../domain/input-states.ts';
import { inputReceived } from '../../domain/events.ts';
import type { InputRequestRecord, InputResponse, RunRecord } from '../../domain/records.ts';
import type { AnswerOutcome, InputRequestStore, ResumeLease } from '../interfaces.ts';
import { LuaScript, pairs, type RedisConnection, type Reply } from './connection.ts';
import { APPEND_LUA, type RedisEventLog } from './event-log.ts';
import { LEASE_LUA, type RedisRunLeases } from './leases.ts';
import type { RedisLocator } from './locator.ts';
import { luaStatusSet, type RedisRunStore } from './runs.ts';

/**
 * A request is a hash (`input:<id>` on one Redis, `c:{conversationId}:input:<id>` on a cluster:
 * see ./keys.ts): `record`, its JSON as it was opened (never re-encoded in Lua, so never
 * mangled), `status` and `runId` as plain strings, and `response`, the answer's JSON. A
 * conversation's PENDING requests are the sorted set `c:{id}:inputs` (by creation), and all of
 * its requests the set `c:{id}:requests` (for deleting the conversation); every PENDING request
 * with a due time is in `inputs-due`, scored by when it is next looked at.
 *
 * On one Redis the scripts keep `inputs-due` and the leases of the runs an answer resumes in the
 * same step. On a cluster both are in other slots:
 * - a request goes into `inputs-due` before it is opened and leaves it after it is settled, so a
 *   due request is never missing from it; what is there for a request that is gone or settled
 *   (its opener or settler died in between) is dropped by the sweep that finds it;
 * - the run an answer may resume gets a lease before the answer (adopt: only when it has none,
 *   as a waiting run has not), and again after it resumed it (it may have lost the one it had
 *   meanwhile, when its executor released it as it began to wait): a resumed run is never left
 *   without a lease, whoever dies when. A lease on a run that stays waiting runs out, and the
 *   sweep that claims it leaves a waiting run alone.
 */

/** The run statuses of the state table these scripts check, as the run hash stores them. */
const STATUS_LUA = `
local ANSWERABLE = ${luaStatusSet(ANSWERABLE_STATUSES)}
local RESUMABLE = ${luaStatusSet(allowedFrom('answer', 'QUEUED'))}
local OPEN = '${OPEN_INPUT_STATUS}'
local function hasOpen(pendingSet, inputPrefix, runId)
  for _, id in ipairs(redis.call('ZRANGE', pendingSet, 0, -1)) do
    if redis.call('HGET', inputPrefix .. id, 'runId') == runId then return true end
  end
  return false
end
-- A WAITING run with nothing PENDING moves to QUEUED, under a lease so that it is found again
-- should nobody start it (taken here when the leases are within reach, else around the script).
local function resume(runHash, pendingSet, inputPrefix, runId, conversationId, holder, ttlMs, leaseKeys, now)
  if not RESUMABLE[redis.call('HGET', runHash, 'status')] then return 0 end
  if hasOpen(pendingSet, inputPrefix, runId) then return 0 end
  redis.call('HSET', runHash, 'status', '"QUEUED"')
  if leaseKeys[1] then acquireLease(leaseKeys[1], leaseKeys[2], leaseKeys[3], leaseKeys[4], runId, conversationId, holder, ttlMs, now) end
  return 1
end
`;

/**
 * KEYS: request, pending set, every request of the conversation, then within reach the due set.
 * ARGV: id, record JSON, run id, created ms, due ms ('' for none).
 */
const OPEN = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'record', ARGV[2], 'status', '${OPEN_INPUT_STATUS}', 'runId', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  redis.call('SADD', KEYS[3], ARGV[1])
  if ARGV[5] ~= '' and KEYS[4] then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1]) end
end
return redis.call('HGETALL', KEYS[1])
`);

/**
 * KEYS: request, pending set, run hash, event stream, seq counter, the log's epoch, then within
 * reach the due set and the four lease keys.
 * ARGV: id, response JSON, then appendEvent's body, max events, max age ms, channel and floor
 * (epoch, seq), then input prefix, run id, conversation id, lease holder, lease ttl ms.
 * Returns {'settled', request hash} or {'answered', seq, timestamp ms, resumed (0/1), log epoch}.
 */
const ANSWER = new LuaScript(`${APPEND_LUA}${LEASE_LUA}${STATUS_LUA}
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= OPEN or not ANSWERABLE[redis.call('HGET', KEYS[3], 'status')] then
  return {'settled', redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'status', '${settledBy('answer')}', 'response', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
if KEYS[7] then redis.call('ZREM', KEYS[7], ARGV[1]) end
local seq, now, logEpoch = appendEvent(KEYS[4], KEYS[5], KEYS[6], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
local resumed = resume(KEYS[3], KEYS[2], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], {KEYS[8], KEYS[9], KEYS[10], KEYS[11]}, now)
return {'answered', seq, now, resumed, logEpoch}
`);

/** KEYS: run hash, pending set, then within reach the four lease keys. ARGV: input prefix, run id, conversation id, holder, ttl ms. */
const RESUME = new LuaScript(`${APPEND_LUA}${LEASE_LUA}${STATUS_LUA}
local resumed = resume(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], {KEYS[3], KEYS[4], KEYS[5], KEYS[6]}, nowMs())
if resumed == 0 then return nil end
return redis.call('HGETALL', KEYS[1])
`);

/** KEYS: pending set, then within reach the due set. ARGV: input prefix, run id, status, request id ('' for all). Returns the ids settled. */
const CLOSE = new LuaScript(`
local settled = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local hash = ARGV[1] .. id
  if redis.call('HGET', hash, 'runId') == ARGV[2] and (ARGV[4] == '' or ARGV[4] == id) then
    redis.call('HSET', hash, 'status', ARGV[3])
    redis.call('ZREM', KEYS[1], id)
    if KEYS[2] then redis.call('ZREM', KEYS[2], id) end
    settled[#settled + 1] = id
  end
end
return settled
`);

/** KEYS: due set. ARGV: ttl ms, limit. Returns the ids claimed. */
const CLAIM_DUE = new LuaScript(`${APPEND_LUA}
local now = nowMs()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), id) end
return due
`);

/** KEYS: pending set. ARGV: input prefix. Returns each PENDING request's hash, oldest first. */
const PENDING = new LuaScript(`
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. id)
end
return out
`);

export interface RedisInputStores {
  locator: RedisLocator;
  runs: RedisRunStore;
  leases: RedisRunLeases;
  events: RedisEventLog;
}

export class RedisInputRequestStore implements InputRequestStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly stores: RedisInputStores,
  ) {}

  async open(request: InputRequestRecord) {
    const record = { ...request, status: OPEN_INPUT_STATUS, response: null };
    const { inReach } = this.redis.keys;
    const due = request.expiresAt === null ? '' : Date.parse(request.expiresAt);
    if (!inReach) {
      await Promise.all([
        this.stores.locator.index('input', request.id, request.conversationId),
        due === '' ? undefined : this.redis.command(['ZADD', this.dueSet(), due, request.id]),
      ]);
    }
    const keys = [
      this.hash(request.conversationId, request.id),
      this.pendingSet(request.conversationId),
      this.redis.conversationKey(request.conversationId, 'requests'),
    ];
    const reply = await this.redis.eval(OPEN, inReach ? [...keys, this.dueSet()] : keys, [
      request.id,
      JSON.stringify(record),
      request.runId,
      Date.parse(request.createdAt),
      due,
    ]);
    return decode(reply)!;
  }

  async get(id: string) {
    const conversationId = await this.stores.locator.where('input', id);
    if (conversationId === null) return null;
    return decode(await this.redis.command(['HGETALL', this.hash(conversationId, id)]));
  }

  async pending(conversationId: string) {
    const reply = await this.redis.eval<Reply[]>(PENDING, [this.pendingSet(conversationId)], [this.prefix(conversationId)]);
    return reply.map(decode).filter((request): request is InputRequestRecord => request !== null);
  }

  async answer(id: string, response: InputResponse, lease: ResumeLease): Promise<AnswerOutcome> {
    const request = await this.get(id);
    if (!request) return { outcome: 'not-found' };
    const { events, runs } = this.stores;
    const { inReach } = this.redis.keys;
    const { runId, conversationId } = request;
    const event = inputReceived(request, response);
    if (!inReach) await this.leaseForResuming(runId, conversationId, lease);
    const keys = [
      this.hash(conversationId, id),
      this.pendingSet(conversationId),
      runs.keys({ id: runId, conversationId })[0],
      ...events.appendKeys(conversationId),
      events.epochKey(conversationId),
    ];
    const reply = await this.redis.eval<Reply[]>(ANSWER, inReach ? [...keys, this.dueSet(), ...this.stores.leases.keys] : keys, [
      id,
      JSON.stringify(response),
      ...events.appendArgs(event),
      this.prefix(conversationId),
      runId,
      conversationId,
      lease.holder,
      lease.ttlMs,
    ]);
    if (reply[0] === 'settled') return { outcome: 'settled', request: decode(reply[1]!) ?? request };
    const resumed = Number(reply[3]) === 1;
    if (!inReach) {
      await Promise.all([this.redis.command(['ZREM', this.dueSet(), id]), resumed && this.leaseForResuming(runId, conversationId, lease)]);
    }
    return {
      outcome: 'answered',
      request: { ...request, status: settledBy('answer'), response },
      event: events.stored(event, reply[1]!, reply[2]!, reply[4]!),
      resumed,
    };
  }

  async resumeIfAnswered(runId: string, lease: ResumeLease): Promise<RunRecord | null> {
    const run = await this.stores.runs.get(runId);
    if (!run) return null;
    const { inReach } = this.redis.keys;
    if (!inReach) await this.leaseForResuming(runId, run.conversationId, lease);
    const keys = [this.stores.runs.keys(run)[0], this.pendingSet(run.conversationId)];
    const reply = await this.redis.eval(RESUME, inReach ? [...keys, ...this.stores.leases.keys] : keys, [
      this.prefix(run.conversationId),
      runId,
      run.conversationId,
      lease.holder,
      lease.ttlMs,
    ]);
    if (reply === null) return null;
    if (!inReach) await this.leaseForResuming(runId, run.conversationId, lease);
    return this.stores.runs.get(runId);
  }

  async close(runId: string, conversationId: string, status: 'EXPIRED' | 'CANCELLED', requestId?: string) {
    const { inReach } = this.redis.keys;
    const pending = this.pendingSet(conversationId);
    const ids = await this.redis.eval<string[]>(CLOSE, inReach ? [pending, this.dueSet()] : [pending], [
      this.prefix(conversationId),
      runId,
      status,
      requestId ?? '',
    ]);
    if (!inReach && ids.length > 0) await this.redis.command(['ZREM', this.dueSet(), ...ids]);
    const settled = await Promise.all(ids.map((id) => this.get(id)));
    return settled.filter((request): request is InputRequestRecord => request !== null);
  }

  async claimDue(ttlMs: number, limit: number) {
    if (limit <= 0) return [];
    const ids = await this.redis.eval<string[]>(CLAIM_DUE, [this.dueSet()], [ttlMs, limit]);
    const claimed = await Promise.all(ids.map((id) => this.get(id)));
    // On a cluster, what is left of a request whose opener or settler died between its two calls
    // (or of a deleted conversation's). One being opened is not taken for one: it goes into the
    // due set before it is opened, but its due time (its expiry) is still to come.
    const stale = ids.filter((_, i) => claimed[i]?.status !== OPEN_INPUT_STATUS);
    if (stale.length > 0) await this.redis.command(['ZREM', this.dueSet(), ...stale]);
    return claimed.filter((request): request is InputRequestRecord => request?.status === OPEN_INPUT_STATUS);
  }

  /** On a cluster: the lease a run needs should an answer resume it (only if it has none: see above). */
  private async leaseForResuming(runId: string, conversationId: string, lease: ResumeLease): Promise<void> {
    await this.stores.leases.adopt([{ runId, conversationId }], lease.holder, lease.ttlMs);
  }

  private hash(conversationId: string, id: string) {
    return this.redis.keys.record('input', conversationId, id);
  }

  private prefix(conversationId: string) {
    return this.redis.keys.recordPrefix('input', conversationId);
  }

  private pendingSet(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'inputs');
  }

  private dueSet() {
    return this.redis.keys.inputsDue;
  }
}

function decode(reply: Reply): InputRequestRecord | null {
  const fields = pairs(reply);
  if (fields['record'] === undefined) return null;
  const record = JSON.parse(fields['record']) as InputRequestRecord;
  return {
    ...record,
    status: fields['status'] as InputRequestRecord['status'],
    response: fields['response'] === undefined ? null : (JSON.parse(fields['response']) as InputRequestRecord['response']),
  };
}
