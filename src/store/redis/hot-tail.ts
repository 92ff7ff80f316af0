/**
 * The fan-out of a history kept elsewhere (PostgreSQL), with its hot tail: the newest events of
 * each conversation kept in Redis for a while, so that replays after a reconnect, and followers
 * filling a gap, are served without a read of the store of record.
 *
 * One script stores a batch in the tail (`c:{id}:tail`, a stream with entry ids `<seq>-0`, as the
 * Redis log's) and publishes its notification on the conversation's channel, so that every
 * event announced is in the tail. The tail only ever holds consecutive events, each already
 * durable in the store of record: a batch that follows its newest entry is added; one after a
 * hole (a batch whose publishing failed) starts the tail anew; one older than its newest entry (a
 * batch of another instance, published late) is announced but left out. The tail keeps at most
 * `capacity` events and expires `windowMs` after its last batch, so that Redis holds only the
 * conversations that are active or were lately. A read is served from the tail when it holds the
 * event right after the cursor; otherwise (null) the store of record answers.
 */
import type { StoredEvent } from '../../domain/events.ts';
import type { LogListener, RecordLog } from '../event-log.ts';
import type { EventFanout } from '../interfaces.ts';
import { LuaScript, type RedisConnection, type Reply } from './connection.ts';
import { bodyOf, decodeEntry, RedisEventChannel } from './event-channel.ts';

/**
 * KEYS: tail. ARGV: first seq, timestamp ms, capacity, window ms, channel, then the bodies.
 * Returns 1 when the batch was added to the tail, 0 when it was older than the tail's newest.
 */
const PUBLISH = new LuaScript(`
local first = tonumber(ARGV[1])
local bodies = {unpack(ARGV, 6)}
local count = #bodies
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local added = 1
if newest then
  local newestSeq = tonumber(string.match(newest[1], '^(%d+)'))
  if first <= newestSeq then added = 0 elseif first > newestSeq + 1 then redis.call('DEL', KEYS[1]) end
end
if added == 1 then
  local last = first + count - 1
  for i = 1, count - 1 do
    redis.call('XADD', KEYS[1], (first + i - 1) .. '-0', 't', ARGV[2], 'e', bodies[i])
  end
  redis.call('XADD', KEYS[1], 'MINID', math.max(0, last - tonumber(ARGV[3]) + 1), last .. '-0', 't', ARGV[2], 'e', bodies[count])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
-- The history kept elsewhere numbers its events once and for all: its notifications carry no epoch.
redis.call('PUBLISH', ARGV[5], first .. ' ' .. ARGV[2] .. '  ' .. table.concat(bodies, '\\n'))
return added
`);

/**
 * KEYS: tail. ARGV: after seq, limit. Returns {} when the tail does not hold the event after
 * the cursor, else its entries from there.
 */
const RECENT = new LuaScript(`
local from = tonumber(ARGV[1]) + 1
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if not oldest or tonumber(string.match(oldest[1], '^(%d+)')) > from then return {} end
return redis.call('XRANGE', KEYS[1], from .. '-0', '+', 'COUNT', ARGV[2])
`);

export interface HotTailOptions {
  /** Events kept per conversation at most (no more than the store of record retains). */
  capacity: number;
  /** How long a conversation's tail outlives its last event, in ms. */
  windowMs: number;
}

export class RedisHotTail implements EventFanout {
  private readonly channel: RedisEventChannel;

  constructor(
    private readonly redis: RedisConnection,
    history: RecordLog,
    private readonly options: HotTailOptions,
  ) {
    this.channel = new RedisEventChannel(redis, async (conversationId) => {
      const lastSeq = await history.lastSeq(conversationId);
      const event = lastSeq === 0 ? undefined : (await history.read(conversationId, lastSeq - 1, 1))[0];
      return event === undefined ? null : { event };
    });
  }

  async publish(batch: readonly StoredEvent[]): Promise<void> {
    const head = batch[0];
    if (head === undefined) return;
    const { conversationId } = head;
    await this.channel.track(conversationId, async () => {
      await this.redis.eval(
        PUBLISH,
        [this.tailKey(conversationId)],
        [head.seq, Date.parse(head.timestamp), this.options.capacity, this.options.windowMs, this.channel.channel(conversationId), ...batch.map(bodyOf)],
      );
      return { events: [...batch] };
    });
  }

  /** Up to `limit` events after `afterSeq` from the tail, or null when it does not hold the next one. */
  async recent(conversationId: string, afterSeq: number, limit: number): Promise<StoredEvent[] | null> {
    if (limit <= 0) return null;
    const entries = await this.redis.eval<Reply[]>(RECENT, [this.tailKey(conversationId)], [Math.max(0, Math.floor(afterSeq)), limit]);
    return entries.length === 0 ? null : entries.map((entry) => decodeEntry(conversationId, entry));
  }

  async forget(conversationId: string): Promise<void> {
    await this.redis.command(['DEL', this.tailKey(conversationId)]);
  }

  listen(conversationId: string, listener: LogListener): () => void {
    return this.channel.listen(conversationId, listener);
  }

  close(): void {
    this.channel.close();
  }

  private tailKey(conversationId: string): string {
    return this.redis.conversationKey(conversationId, 'tail');
  }
}
