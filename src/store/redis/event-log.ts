/**
 * The event log on Redis Streams, shared by every instance.
 *
 * Per conversation: a counter (`…:seq`) is the one seq authority, and a stream (`…:ev`) holds the
 * retained events with entry id `<seq>-0` and fields `t` (Redis server time, ms) and `e` (the
 * event's body as JSON). One Lua script increments the counter, appends, trims by length, and
 * publishes the stored event on the conversation's channel (`…:bell`): numbering and
 * appending are one atomic step, so instances never issue the same seq or leave a hole, and
 * the doorbell rings only for an event that is already durable (as durable as Redis is made:
 * see the README, "Configuring Redis for durability" on AOF).
 *
 * Live delivery is the event channel's (./event-channel.ts): the append script publishes there.
 */
import { LuaScript, type RedisConnection, type Reply } from './connection.ts';
import { eventsExpired, LeaseLostError, withSeq, type EventLog, type RetentionPolicy } from '../event-log.ts';
import type { NewEvent, StoredEvent } from '../../domain/events.ts';
import { bodyOf, decodeEntry, RedisEventChannel } from './event-channel.ts';

/** Drops the stream's entries older than `cutoff` (ms): a prefix, since entries are in time order. */
const TRIM_BY_AGE = `
local function trimByAge(key, cutoff)
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  if not first or tonumber(first[2][2]) >= cutoff then return end
  local batch = redis.call('XRANGE', key, '-', '+', 'COUNT', 500)
  local boundary = nil
  for _, entry in ipairs(batch) do
    if tonumber(entry[2][2]) >= cutoff then boundary = entry[1] break end
  end
  if boundary then
    redis.call('XTRIM', key, 'MINID', boundary)
  else
    local lastOld = tonumber(string.match(batch[#batch][1], '^(%d+)'))
    redis.call('XTRIM', key, 'MINID', (lastOld + 1) .. '-0')
  end
end
`;

const NOW_MS = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Appending, as Lua functions for the script here and for the atomic send
 * (store/redis/sends.ts). `appendEvents`: stream, counter, the bodies' JSON (a table), max
 * length, max age ms, channel, and '1' to leave the stream's expiry as it is; returns the first
 * seq and the timestamp ms. `appendEvent` is the same for one body.
 *
 * The events get consecutive seqs and one timestamp, and the conversation's channel one
 * notification for all of them, in the event channel's form (./event-channel.ts).
 *
 * Nothing here scans: ids are the seqs, contiguous, so keeping the newest N is dropping ids below
 * seq - N + 1 (XADD MINID, once per batch, on its last entry). Events past the retention age are
 * dropped by READ, before anything is read. A conversation idle for longer than the retention
 * age has nothing left to keep, so the stream expires then; tokens leave its expiry alone, since
 * a run always follows its tokens with its terminal event, which refreshes it.
 */
export const APPEND_LUA = `${NOW_MS}
local function appendEvents(stream, counter, bodies, maxLen, maxAgeMs, channel, keepExpiry)
  local count = #bodies
  local last = redis.call('INCRBY', counter, count)
  local first = last - count + 1
  local now = nowMs()
  for i = 1, count - 1 do
    redis.call('XADD', stream, (first + i - 1) .. '-0', 't', now, 'e', bodies[i])
  end
  redis.call('XADD', stream, 'MINID', math.max(0, last - tonumber(maxLen) + 1), last .. '-0', 't', now, 'e', bodies[count])
  if keepExpiry ~= '1' then redis.call('PEXPIRE', stream, maxAgeMs) end
  redis.call('PUBLISH', channel, first .. ' ' .. now .. ' ' .. table.concat(bodies, '\\n'))
  return first, now
end
local function appendEvent(stream, counter, body, maxLen, maxAgeMs, channel, keepExpiry)
  return appendEvents(stream, counter, {body}, maxLen, maxAgeMs, channel, keepExpiry)
end
`;

/**
 * KEYS: stream, counter, the run epochs it is fenced by (a hash from run id to epoch). ARGV: max length, max age ms, channel, run id, lease epoch
 * ('' for an unfenced append), '1' to leave the expiry alone, then the bodies' JSON, in order.
 * Returns {first seq, timestamp ms}, or nil when fenced off.
 */
const APPEND = new LuaScript(`${APPEND_LUA}
-- Fencing (see RunLeases): an executor appends only while the run's lease is still at the epoch
-- it acquired it at; a survivor that took the run over has moved the epoch on. Once per batch:
-- its events are all of that one run. The epochs are the leases' on one Redis, the
-- conversation's own fence on a cluster (./fences.ts), in the conversation's slot.
if ARGV[5] ~= '' and redis.call('HGET', KEYS[3], ARGV[4]) ~= ARGV[5] then return nil end
local first, now = appendEvents(KEYS[1], KEYS[2], {unpack(ARGV, 7)}, ARGV[1], ARGV[2], ARGV[3], ARGV[6])
return {first, now}
`);

/**
 * KEYS: stream, counter. ARGV: afterSeq, limit, max age ms.
 * Returns {0, firstRetainedSeq} when events right after afterSeq are gone, else {1, entries}.
 */
const READ = new LuaScript(`${NOW_MS}${TRIM_BY_AGE}
trimByAge(KEYS[1], nowMs() - tonumber(ARGV[3]))
local afterSeq = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local firstSeq = last + 1
if first then firstSeq = tonumber(string.match(first[1], '^(%d+)')) end
if afterSeq < firstSeq - 1 then return {0, firstSeq} end
return {1, redis.call('XRANGE', KEYS[1], (afterSeq + 1) .. '-0', '+', 'COUNT', ARGV[2])}
`);

export class RedisEventLog implements EventLog {
  /** Live delivery: the append script publishes on its channels, listeners hear through it. */
  readonly channel: RedisEventChannel;

  /**
   * @param fenceOf the key of the run epochs that fence a conversation's appends: the leases'
   *   (RedisRunLeases) on one Redis, the conversation's fence (RedisRunFences) on a cluster
   */
  constructor(
    private readonly redis: RedisConnection,
    private readonly retention: RetentionPolicy,
    private readonly fenceOf: (conversationId: string) => string,
  ) {
    this.channel = new RedisEventChannel(redis, (conversationId) => this.newest(conversationId));
  }

  async append(event: NewEvent, leaseEpoch?: number): Promise<StoredEvent> {
    return (await this.appendBatch([event], leaseEpoch))[0]!;
  }

  /** One script call for the whole batch; its events must all be of one run. */
  async appendBatch(events: readonly NewEvent[], leaseEpoch?: number): Promise<StoredEvent[]> {
    const head = events[0];
    if (head === undefined) return [];
    const keepExpiry = events.every((event) => event.type === 'AgentToken') ? '1' : '';
    const { maxEventsPerConversation, maxAgeMs } = this.retention;
    const { conversationId } = head;
    return this.channel.track(conversationId, async () => {
      const reply = await this.redis.eval<[number, number] | null>(
        APPEND,
        [...this.appendKeys(conversationId), this.fenceOf(conversationId)],
        [maxEventsPerConversation, maxAgeMs, this.channel.channel(conversationId), head.runId, leaseEpoch ?? '', keepExpiry, ...events.map(bodyOf)],
      );
      if (reply === null) throw new LeaseLostError(head.runId);
      const timestamp = new Date(Number(reply[1])).toISOString();
      return events.map((event, i) => withSeq(event, Number(reply[0]) + i, timestamp));
    });
  }

  /** The keys of `appendEvent`: stream, counter. */
  appendKeys(conversationId: string): [string, string] {
    return [this.streamKey(conversationId), this.counterKey(conversationId)];
  }

  /** The arguments of `appendEvent` after its keys: body JSON, max length, max age ms, channel. */
  appendArgs(event: NewEvent): [string, number, number, string] {
    return [bodyOf(event), this.retention.maxEventsPerConversation, this.retention.maxAgeMs, this.channel.channel(event.conversationId)];
  }

  /**
   * The event as stored with the seq and time `appendEvent` answered. When this process listens
   * to the conversation, it is also what its own notification will deliver.
   */
  stored(event: NewEvent, seq: Reply, at: Reply): StoredEvent {
    return this.channel.rememberOwn([withSeq(event, Number(seq), new Date(Number(at)).toISOString())])[0]!;
  }

  async read(conversationId: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    if (limit <= 0) {
      // Still answer EVENTS_EXPIRED for a cursor that is gone, as the memory log does.
      await this.read(conversationId, afterSeq, 1);
      return [];
    }
    const reply = await this.redis.eval<[number, Reply]>(
      READ,
      [this.streamKey(conversationId), this.counterKey(conversationId)],
      [Math.max(0, Math.floor(afterSeq)), limit, this.retention.maxAgeMs],
    );
    if (Number(reply[0]) === 0) throw eventsExpired(afterSeq, Number(reply[1]));
    return (reply[1] as Reply[]).map((entry) => decodeEntry(conversationId, entry));
  }

  async lastSeq(conversationId: string): Promise<number> {
    return Number((await this.redis.command<string | null>(['GET', this.counterKey(conversationId)])) ?? 0);
  }

  listen(conversationId: string, listener: (event: StoredEvent) => void): () => void {
    return this.channel.listen(conversationId, listener);
  }

  /** Stops reacting to resubscriptions; the connection itself belongs to the backend. */
  close(): void {
    this.channel.close();
  }

  /** The newest retained event, for the channel to announce. */
  private async newest(conversationId: string): Promise<StoredEvent | null> {
    const reply = await this.redis.command<Reply[]>(['XREVRANGE', this.streamKey(conversationId), '+', '-', 'COUNT', '1']);
    return reply[0] === undefined ? null : decodeEntry(conversationId, reply[0]);
  }

  private streamKey(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'ev');
  }

  private counterKey(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'seq');
  }
}
