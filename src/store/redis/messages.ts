import type { MessageStore } from '../interfaces.ts';
import type { MessageRecord } from '../../domain/records.ts';
import { LuaScript, type RedisConnection } from './connection.ts';
import type { RedisLocator } from './locator.ts';
import type { HistoryRead, RecentMessages } from '../recent-messages.ts';

/**
 * A message is stored twice: by id (`msg:<id>` on one Redis, `c:{conversationId}:msg:<id>` on a
 * cluster: see ./keys.ts; its JSON) and in its conversation's sorted set (`c:{conversationId}:msgs`,
 * the same JSON scored by seq), so that the last N are one ZRANGE.
 */

/**
 * A Lua function for the script here, for the atomic send (./sends.ts) and for the append of an
 * AgentCompleted (./event-log.ts).
 */
export const MESSAGE_LUA = `
local function addMessage(byId, conversationSet, json, seq)
  -- A message already stored under its id is left as it is, as on the other backends.
  if redis.call('SET', byId, json, 'NX') == false then return end
  redis.call('ZADD', conversationSet, seq, json)
end
`;

/** KEYS: by id, conversation set. ARGV: JSON, seq. */
const ADD = new LuaScript(`${MESSAGE_LUA}
addMessage(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
`);

/**
 * A run's history, as a Lua function for the script here and for a run's start
 * (./head-start.ts): the last `count` messages of the conversation's set with a seq up to that
 * of the message stored by id (the newest when there is none). `keptSeq` and `keptJson` are
 * the seq and JSON of the newest message the reader keeps ('' for none): when it is still
 * stored as it was and not past the message read through, only the messages after it are read
 * (see ../recent-messages.ts). Returns {1, those} or {0, the last `count`}, newest first.
 */
export const HISTORY_LUA = `
local function lastThrough(byId, conversationSet, count, keptSeq, keptJson)
  local json = redis.call('GET', byId)
  local through = '+inf'
  if json then through = cjson.decode(json).seq end
  if keptSeq ~= '' and (not json or through >= tonumber(keptSeq)) then
    local kept = redis.call('ZRANGE', conversationSet, keptSeq, keptSeq, 'BYSCORE')[1]
    if kept == keptJson then
      return {1, redis.call('ZRANGE', conversationSet, through, '(' .. keptSeq, 'BYSCORE', 'REV', 'LIMIT', 0, tonumber(count))}
    end
  end
  return {0, redis.call('ZRANGE', conversationSet, through, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, tonumber(count))}
end
`;

/** KEYS: by id, conversation set. ARGV: how many, the kept message's seq and JSON (see `lastThrough`). */
const LIST_LAST_THROUGH = new LuaScript(`${HISTORY_LUA}
return lastThrough(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
`);

/** What `lastThrough` answers: whether it read on from the kept message, and the messages' JSON, newest first. */
export type HistoryReplyJson = [onFromKept: number, newestFirst: string[]];

export class RedisMessageStore implements MessageStore {
  /** @param recent the newest messages of conversations read lately, which a history read then reads on from */
  constructor(
    private readonly redis: RedisConnection,
    private readonly locator: RedisLocator,
    private readonly recent: RecentMessages,
  ) {}

  async add(message: MessageRecord) {
    const json = JSON.stringify(message);
    await this.index(message);
    await this.redis.eval(ADD, this.keys(message), [json, message.seq]);
  }

  /** Writes the index of a message about to be stored by a script (see ./locator.ts). */
  async index(message: Pick<MessageRecord, 'id' | 'conversationId'>): Promise<void> {
    await this.locator.index('msg', message.id, message.conversationId);
  }

  /** Drops the indexes of messages that a script did not store after all. */
  async forget(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.locator.forget('msg', ids);
  }

  /** The keys of `addMessage`: by id, and the conversation's set. */
  keys(message: Pick<MessageRecord, 'id' | 'conversationId'>): [string, string] {
    return [this.redis.keys.record('msg', message.conversationId, message.id), this.redis.conversationKey(message.conversationId, 'msgs')];
  }

  async listLast(conversationId: string, last: number, throughSeq?: number) {
    if (last <= 0) return [];
    // Newest first from throughSeq down, at most `last`: the read is as long as the window.
    const reply = await this.redis.command<string[]>([
      'ZRANGE',
      this.redis.conversationKey(conversationId, 'msgs'),
      throughSeq ?? '+inf',
      '-inf',
      'BYSCORE',
      'REV',
      'LIMIT',
      0,
      last,
    ]);
    return reply.reverse().map((json) => JSON.parse(json) as MessageRecord);
  }

  async listLastThrough(conversationId: string, last: number, messageId: string) {
    if (last <= 0) return [];
    const planned = this.planHistory(conversationId, last);
    const reply = await this.redis.eval<HistoryReplyJson>(LIST_LAST_THROUGH, this.keys({ id: messageId, conversationId }), this.historyArgs(planned));
    return this.historyFrom(planned, reply);
  }

  /** The arguments of `lastThrough` after its keys, for a history read planned with `planHistory`. */
  historyArgs(planned: HistoryRead): [number, number | string, string] {
    return [planned.count, planned.kept?.newestSeq ?? '', planned.kept?.newestIdentity ?? ''];
  }

  /** Plans a history read of the conversation's `last` newest messages, on from those kept here (see RecentMessages). */
  planHistory(conversationId: string, last: number): HistoryRead {
    return this.recent.plan(conversationId, last);
  }

  /** The history that `lastThrough` answered to the read `planned`, kept for the next read. */
  historyFrom(planned: HistoryRead, [onFromKept, newestFirst]: HistoryReplyJson): MessageRecord[] {
    const read = newestFirst.reverse().map((json) => ({ message: JSON.parse(json) as MessageRecord, size: json.length, identity: json }));
    return this.recent.settle(planned, { onFromKept: Number(onFromKept) === 1, read });
  }

  async get(id: string) {
    const conversationId = await this.locator.where('msg', id);
    if (conversationId === null) return null;
    const json = await this.redis.command<string | null>(['GET', this.redis.keys.record('msg', conversationId, id)]);
    return json === null ? null : (JSON.parse(json) as MessageRecord);
  }
}

/** The message's JSON up to its seq, which a script appends once the log has numbered it. */
export function unnumberedJson(message: MessageRecord): string {
  const { seq: _numberedByTheLog, ...unnumbered } = message;
  return `${JSON.stringify(unnumbered).slice(0, -1)},"seq":`;
}
