import type { MessageStore } from '../interfaces.ts';
import type { MessageRecord } from '../types.ts';
import { LuaScript, type RedisConnection } from './connection.ts';

/**
 * A message is stored twice: by id (`msg:<id>`, its JSON) and in its conversation's sorted set
 * (`c:{conversationId}:msgs`, the same JSON scored by seq), so that the last N are one ZRANGE.
 */

/** KEYS: by id, conversation set. ARGV: JSON, seq. */
const ADD = new LuaScript(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
`);

export class RedisMessageStore implements MessageStore {
  constructor(private readonly redis: RedisConnection) {}

  async add(message: MessageRecord) {
    const json = JSON.stringify(message);
    await this.redis.eval(ADD, [this.redis.key('msg', message.id), this.redis.conversationKey(message.conversationId, 'msgs')], [
      json,
      message.seq,
    ]);
  }

  async listLast(conversationId: string, last: number) {
    if (last <= 0) return [];
    const reply = await this.redis.command<string[]>(['ZRANGE', this.redis.conversationKey(conversationId, 'msgs'), -last, -1]);
    return reply.map((json) => JSON.parse(json) as MessageRecord);
  }

  async get(id: string) {
    const json = await this.redis.command<string | null>(['GET', this.redis.key('msg', id)]);
    return json === null ? null : (JSON.parse(json) as MessageRecord);
  }
}
