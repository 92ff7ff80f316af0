import { ANSWERABLE_STATUSES, allowedFrom } from '../../domain/run-states.ts';
import { OPEN_INPUT_STATUS, settledBy } from '../../domain/input-states.ts';
import { inputReceived } from '../../domain/events.ts';
import type { InputRequestRecord, InputResponse, RunRecord } from '../../domain/records.ts';
import type { AnswerOutcome, InputRequestStore, ResumeLease } from '../interfaces.ts';
import { LuaScript, pairs, type RedisConnection, type Reply } from './connection.ts';
import { APPEND_LUA, type RedisEventLog } from './event-log.ts';
import { LEASE_LUA, type RedisRunLeases } from './leases.ts';
import { luaStatusSet, type RedisRunStore } from './runs.ts';

/**
 * A request is a hash (`input:<id>`): `record`, its JSON as it was opened (never re-encoded in
 * Lua, so never mangled), `status` and `runId` as plain strings, and `response`, the answer's
 * JSON. A conversation's PENDING requests are the sorted set `c:{id}:inputs` (by creation), and
 * all of its requests the set `c:{id}:requests` (for deleting the conversation);
 * every PENDING request with a due time is in `inputs-due`, scored by when it is next looked at.
 */

/** The run statuses of the state table these scripts check, as the run hash stores them. */
const STATUS_LUA = `
local ANSWERABLE = ${luaStatusSet(ANSWERABLE_STATUSES)}
local RESUMABLE = ${luaStatusSet(allowedFrom('answer', 'QUEUED'))}
local OPEN = '${OPEN_INPUT_STATUS}'
local function hasOpen(pendingSet, prefix, runId)
  for _, id in ipairs(redis.call('ZRANGE', pendingSet, 0, -1)) do
    if redis.call('HGET', prefix .. 'input:' .. id, 'runId') == runId then return true end
  end
  return false
end
-- A WAITING run with nothing PENDING moves to QUEUED, under a lease so that it is found again
-- should nobody start it.
local function resume(runHash, pendingSet, prefix, runId, conversationId, holder, ttlMs, leaseKeys, now)
  if not RESUMABLE[redis.call('HGET', runHash, 'status')] then return 0 end
  if hasOpen(pendingSet, prefix, runId) then return 0 end
  redis.call('HSET', runHash, 'status', '"QUEUED"')
  acquireLease(leaseKeys[1], leaseKeys[2], leaseKeys[3], leaseKeys[4], runId, conversationId, holder, ttlMs, now)
  return 1
end
`;

/** KEYS: request, pending set, due set, every request of the conversation. ARGV: id, record JSON, run id, created ms, due ms ('' for none). */
const OPEN = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'record', ARGV[2], 'status', '${OPEN_INPUT_STATUS}', 'runId', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[1])
  if ARGV[5] ~= '' then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1]) end
end
return redis.call('HGETALL', KEYS[1])
`);

/**
 * KEYS: request, pending set, due set, run hash, event stream, seq counter, then the four lease
 * keys, then the log's epoch.
 * ARGV: id, response JSON, then appendEvent's body, max events, max age ms and channel, then key
 * prefix, run id, conversation id, lease holder, lease ttl ms.
 * Returns {'settled', request hash} or {'answered', seq, timestamp ms, resumed (0/1)}.
 */
const ANSWER = new LuaScript(`${APPEND_LUA}${LEASE_LUA}${STATUS_LUA}
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= OPEN or not ANSWERABLE[redis.call('HGET', KEYS[4], 'status')] then
  return {'settled', redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'status', '${settledBy('answer')}', 'response', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local seq, now = appendEvent(KEYS[5], KEYS[6], KEYS[11], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
local resumed = resume(KEYS[4], KEYS[2], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], {KEYS[7], KEYS[8], KEYS[9], KEYS[10]}, now)
return {'answered', seq, now, resumed}
`);

/** KEYS: run hash, pending set, then the four lease keys. ARGV: key prefix, run id, conversation id, holder, ttl ms. */
const RESUME = new LuaScript(`${APPEND_LUA}${LEASE_LUA}${STATUS_LUA}
local resumed = resume(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], {KEYS[3], KEYS[4], KEYS[5], KEYS[6]}, nowMs())
if resumed == 0 then return nil end
return redis.call('HGETALL', KEYS[1])
`);

/** KEYS: pending set, due set. ARGV: key prefix, run id, status, request id ('' for all). Returns the ids settled. */
const CLOSE = new LuaScript(`
local settled = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local hash = ARGV[1] .. 'input:' .. id
  if redis.call('HGET', hash, 'runId') == ARGV[2] and (ARGV[4] == '' or ARGV[4] == id) then
    redis.call('HSET', hash, 'status', ARGV[3])
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
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

/** KEYS: pending set. ARGV: key prefix. Returns each PENDING request's hash, oldest first. */
const PENDING = new LuaScript(`
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. 'input:' .. id)
end
return out
`);

export interface RedisInputStores {
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
    const reply = await this.redis.eval(
      OPEN,
      [...this.keys(request), this.redis.conversationKey(request.conversationId, 'requests')],
      [request.id, JSON.stringify(record), request.runId, Date.parse(request.createdAt), request.expiresAt === null ? '' : Date.parse(request.expiresAt)],
    );
    return decode(reply)!;
  }

  async get(id: string) {
    return decode(await this.redis.command(['HGETALL', this.hash(id)]));
  }

  async pending(conversationId: string) {
    const reply = await this.redis.eval<Reply[]>(PENDING, [this.pendingSet(conversationId)], [this.redis.prefix]);
    return reply.map(decode).filter((request): request is InputRequestRecord => request !== null);
  }

  async answer(id: string, response: InputResponse, lease: ResumeLease): Promise<AnswerOutcome> {
    const request = await this.get(id);
    if (!request) return { outcome: 'not-found' };
    const { events, runs, leases } = this.stores;
    const event = inputReceived(request, response);
    const reply = await this.redis.eval<Reply[]>(
      ANSWER,
      [
        ...this.keys(request),
        runs.keys({ id: request.runId, conversationId: request.conversationId })[0],
        ...events.appendKeys(request.conversationId),
        ...leases.keys,
        events.epochKey(request.conversationId),
      ],
      [id, JSON.stringify(response), ...events.appendArgs(event), this.redis.prefix, request.runId, request.conversationId, lease.holder, lease.ttlMs],
    );
    if (reply[0] === 'settled') return { outcome: 'settled', request: decode(reply[1]!) ?? request };
    return {
      outcome: 'answered',
      request: { ...request, status: settledBy('answer'), response },
      event: events.stored(event, reply[1]!, reply[2]!),
      resumed: Number(reply[3]) === 1,
    };
  }

  async resumeIfAnswered(runId: string, lease: ResumeLease): Promise<RunRecord | null> {
    const run = await this.stores.runs.get(runId);
    if (!run) return null;
    const reply = await this.redis.eval(
      RESUME,
      [this.stores.runs.keys(run)[0], this.pendingSet(run.conversationId), ...this.stores.leases.keys],
      [this.redis.prefix, runId, run.conversationId, lease.holder, lease.ttlMs],
    );
    return reply === null ? null : this.stores.runs.get(runId);
  }

  async close(runId: string, conversationId: string, status: 'EXPIRED' | 'CANCELLED', requestId?: string) {
    const ids = await this.redis.eval<string[]>(CLOSE, [this.pendingSet(conversationId), this.dueSet()], [this.redis.prefix, runId, status, requestId ?? '']);
    const settled = await Promise.all(ids.map((id) => this.get(id)));
    return settled.filter((request): request is InputRequestRecord => request !== null);
  }

  async claimDue(ttlMs: number, limit: number) {
    if (limit <= 0) return [];
    const ids = await this.redis.eval<string[]>(CLAIM_DUE, [this.dueSet()], [ttlMs, limit]);
    const claimed = await Promise.all(ids.map((id) => this.get(id)));
    return claimed.filter((request): request is InputRequestRecord => request !== null);
  }

  private keys(request: Pick<InputRequestRecord, 'id' | 'conversationId'>): [string, string, string] {
    return [this.hash(request.id), this.pendingSet(request.conversationId), this.dueSet()];
  }

  private hash(id: string) {
    return this.redis.key('input', id);
  }

  private pendingSet(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'inputs');
  }

  private dueSet() {
    return this.redis.key('inputs-due');
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
