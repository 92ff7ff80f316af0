import type { QueueHead, RunQueue, RunStore } from '../interfaces.ts';
import type { RunRecord, RunStatus } from '../../domain/records.ts';
import { ACTIVE_STATUSES } from '../../domain/run-states.ts';
import { LuaScript, pairs, type RedisConnection, type Reply } from './connection.ts';
import type { RedisLocator } from './locator.ts';

/**
 * A run is a hash (`run:<id>` on one Redis, `c:{conversationId}:run:<id>` on a cluster: see
 * ./keys.ts) with one field per RunRecord property, each holding that property's JSON, so that a
 * transition compares and sets fields in Lua without re-encoding (and so without mangling) the
 * rest. A conversation's runs are listed in `c:{id}:runs`; its queue is the list `c:{id}:queue`.
 * Scripts name a conversation's runs from its run prefix (`RedisKeys.recordPrefix`) and their ids.
 */

/** A Lua set of run statuses, as the run hash stores them (JSON strings), from the state table. */
export function luaStatusSet(statuses: readonly string[]): string {
  return `{${statuses.map((status) => `[${luaString(JSON.stringify(status))}] = true`).join(', ')}}`;
}

/** `text` as a Lua string literal. */
export function luaString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Lua functions for the scripts here, the atomic send (./sends.ts) and a run's completion
 * (./run-completion.ts): creating a run (`fields`: field, value, … as `encode` makes them), its
 * conversation's active runs (the state table's ACTIVE_STATUSES), and a run leaving its queue
 * (returns how many runs are left in it).
 */
export const RUN_LUA = `
local ACTIVE_RUN_STATUSES = ${luaStatusSet(ACTIVE_STATUSES)}
local function createRun(hash, conversationList, id, fields)
  redis.call('HSET', hash, unpack(fields))
  redis.call('RPUSH', conversationList, id)
end
local function leaveQueue(queue, id)
  redis.call('LREM', queue, 0, id)
  return redis.call('LLEN', queue)
end
local function activeRuns(queue, runPrefix)
  local active = {}
  for _, id in ipairs(redis.call('LRANGE', queue, 0, -1)) do
    local status = redis.call('HGET', runPrefix .. id, 'status')
    if ACTIVE_RUN_STATUSES[status] then active[#active + 1] = id end
  end
  return active
end
`;

/** KEYS: hash, conversation list. ARGV: id, then field, value, … */
const CREATE = new LuaScript(`${RUN_LUA}
createRun(KEYS[1], KEYS[2], ARGV[1], {unpack(ARGV, 2)})
return 1
`);

/**
 * Compare-and-set. KEYS: hash. ARGV: n, n statuses (as JSON), then field, value, … to set.
 * Returns the updated hash, or nil when the status is not one of the n.
 */
const TRANSITION = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return nil end
local n = tonumber(ARGV[1])
local allowed = false
for i = 2, n + 1 do
  if ARGV[i] == status then allowed = true break end
end
if not allowed then return nil end
if #ARGV > n + 1 then redis.call('HSET', KEYS[1], unpack(ARGV, n + 2)) end
return redis.call('HGETALL', KEYS[1])
`);

/** KEYS: conversation list. ARGV: last, run prefix. */
const LIST_LAST = new LuaScript(`
local ids = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[1]), -1)
local out = {}
for _, id in ipairs(ids) do
  local fields = redis.call('HGETALL', ARGV[2] .. id)
  if #fields > 0 then out[#out + 1] = fields end
end
return out
`);

/** KEYS: queue. ARGV: run prefix. The queue's first run id and its hash (empty when gone), or nil. */
const HEAD = new LuaScript(`
local id = redis.call('LINDEX', KEYS[1], 0)
if not id then return nil end
return {id, redis.call('HGETALL', ARGV[1] .. id)}
`);

/** KEYS: queue. ARGV: run id. Returns how many runs are left in the queue. */
const REMOVE = new LuaScript(`${RUN_LUA}
return leaveQueue(KEYS[1], ARGV[1])
`);

export class RedisRunStore implements RunStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly locator: RedisLocator,
  ) {}

  async create(run: RunRecord) {
    await this.locator.index('run', run.id, run.conversationId);
    await this.redis.eval(CREATE, this.keys(run), [run.id, ...encode(run)]);
  }

  /** The keys of `createRun`: the run's hash, and its conversation's list of runs. */
  keys(run: Pick<RunRecord, 'id' | 'conversationId'>): [string, string] {
    return [this.hash(run.conversationId, run.id), this.redis.conversationKey(run.conversationId, 'runs')];
  }

  /** What scripts prepend to a run id of the conversation to name its hash. */
  prefix(conversationId: string): string {
    return this.redis.keys.recordPrefix('run', conversationId);
  }

  async get(id: string) {
    const conversationId = await this.locator.where('run', id);
    if (conversationId === null) return null;
    return decode(await this.redis.command(['HGETALL', this.hash(conversationId, id)]));
  }

  async listLast(conversationId: string, last: number) {
    if (last <= 0) return [];
    const reply = await this.redis.eval<Reply[]>(LIST_LAST, [this.redis.conversationKey(conversationId, 'runs')], [last, this.prefix(conversationId)]);
    return reply.map((fields) => decode(fields)).filter((run): run is RunRecord => run !== null);
  }

  async transition(id: string, from: readonly RunStatus[], patch: Partial<RunRecord>) {
    const conversationId = await this.locator.where('run', id);
    if (conversationId === null) return null;
    const reply = await this.redis.eval(
      TRANSITION,
      [this.hash(conversationId, id)],
      [from.length, ...from.map((status) => JSON.stringify(status)), ...encode(patch)],
    );
    return decode(reply);
  }

  private hash(conversationId: string, id: string) {
    return this.redis.keys.record('run', conversationId, id);
  }
}

export function encode(fields: Partial<RunRecord>): string[] {
  const out: string[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (value !== undefined) out.push(field, JSON.stringify(value));
  }
  return out;
}

/** A run from its hash's fields (null when the hash is gone). */
export function decode(reply: Reply): RunRecord | null {
  const fields = pairs(reply);
  if (fields['id'] === undefined) return null;
  return Object.fromEntries(Object.entries(fields).map(([field, json]) => [field, JSON.parse(json)])) as unknown as RunRecord;
}

export class RedisRunQueue implements RunQueue {
  constructor(private readonly redis: RedisConnection) {}

  async push(conversationId: string, runId: string) {
    await this.redis.command(['RPUSH', this.queue(conversationId), runId]);
  }

  async list(conversationId: string) {
    return this.redis.command<string[]>(['LRANGE', this.queue(conversationId), 0, -1]);
  }

  async head(conversationId: string): Promise<QueueHead | null> {
    const reply = await this.redis.eval<[string, Reply] | null>(HEAD, [this.queue(conversationId)], [this.redis.keys.recordPrefix('run', conversationId)]);
    return reply === null ? null : { runId: reply[0], run: decode(reply[1]) };
  }

  async remove(conversationId: string, runId: string) {
    return Number(await this.redis.eval(REMOVE, [this.queue(conversationId)], [runId])) > 0;
  }

  queue(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'queue');
  }
}
