import type { MessageStore } from '../interfaces.ts';
import type { MessageRecord } from '../../domain/records.ts';
import { LuaScript, type RedisConnection } from './connection.ts';
import type { RedisLocator } from './locator.ts';
import type { RecentMessages } from '../recent-messages.ts';

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
 * A run's history in one round trip: the last ARGV[1] messages of the set with a seq up to that
 * of the message stored by id (the newest when there is none). KEYS: by id, conversation set.
 * ARGV: how many, then the seq and JSON of the newest message the reader keeps ('' for none):
 * when it is still stored as it was and not past the message read through, only the messages
 * after it are read (see ../recent-messages.ts). Returns {1, those} or {0, the last ARGV[1]},
 * newest first.
 */
const LIST_LAST_THROUGH = new LuaScript(`
local json = redis.call('GET', KEYS[1])
local through = '+inf'
if json then through = cjson.decode(json).seq end
if ARGV[2] ~= '' and (not json or through >= tonumber(ARGV[2])) then
  local kept = redis.call('ZRANGE', KEYS[2], ARGV[2], ARGV[2], 'BYSCORE')[1]
  if kept == ARGV[3] then
    return {1, redis.call('ZRANGE', KEYS[2], through, '(' .. ARGV[2], 'BYSCORE', 'REV', 'LIMIT', 0, tonumber(ARGV[1]))}
  end
end
return {0, redis.call('ZRANGE', KEYS[2], through, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, tonumber(ARGV[1]))}
`);

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
    return this.recent.history(conversationId, last, async (count, kept) => {
      const [onFromKept, newestFirst] = await this.redis.eval<[number, string[]]>(LIST_LAST_THROUGH, this.keys({ id: messageId, conversationId }), [
        count,
        kept?.newestSeq ?? '',
        kept?.newestIdentity ?? '',
      ]);
      const read = newestFirst.reverse().map((json) => ({ message: JSON.parse(json) as MessageRecord, size: json.length, identity: json }));
      return { onFromKept: Number(onFromKept) === 1, read };
    });
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
