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
 * Redis is the store of record here, and it can lose a log (a flush, a restart without
 * persistence, a failover to a replica that had not received it): the next append begins it
 * again from seq 1. So the append that begins a log also draws its epoch (`…:epoch`, the
 * server's time in microseconds), which every notification and read carries: a follower that
 * meets another epoch than the one it started on, or reads past the log's end, fails with
 * EVENTS_EXPIRED (see LogView) instead of being handed other events under seqs it holds. A log
 * can also go back (lose only its latest writes) and keep its epoch: an append from a process
 * that was given a higher seq in that epoch numbers on past that seq, under a new epoch
 * (./seq-floors.ts), so that the seqs lost are not given again and followers learn of it.
 *
 * Live delivery is the event channel's (./event-channel.ts): the append script publishes there.
 */
import { LuaScript, type RedisConnection, type Reply } from './connection.ts';
import { eventsExpired, LeaseLostError, logLost, sameLog, withSeq, type EventLog, type LogListener, type LogView, type RetentionPolicy } from '../event-log.ts';
import type { NewEvent, StoredEvent } from '../../domain/events.ts';
import type { MessageRecord } from '../../domain/records.ts';
import { bodyOf, decodeEntry, epochOfReply, RedisEventChannel, type Announcement } from './event-channel.ts';
import { floorArgs, SeqFloors, type SeqFloor } from './seq-floors.ts';
import { MESSAGE_LUA, unnumberedJson, type RedisMessageStore } from './messages.ts';

/** Conversations whose newest appended seq this process keeps (see ./seq-floors.ts): about 100 bytes each. */
const FLOORS_KEPT = 10_000;

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
 * (store/redis/sends.ts). `appendEvents`: stream, counter, epoch key, the bodies' JSON (a
 * table), max length, max age ms, channel, '1' to leave the stream's expiry as it is, and
 * optionally the epoch and seq of the appender's previous append (see ./seq-floors.ts); returns
 * the first seq, the timestamp ms and the epoch. `appendEvent` is the same for one body (not a
 * token: it refreshes the expiry), with the floor.
 *
 * The events get consecutive seqs and one timestamp, and the conversation's channel one
 * notification for all of them, in the event channel's form (./event-channel.ts), with the
 * log's epoch. The append that creates the counter begins the log, and draws its epoch: the
 * server's time in microseconds, which no earlier beginning of the log had. A log begun before
 * epochs existed has the empty one until it is lost.
 *
 * Nothing here scans: ids are the seqs, contiguous, so keeping the newest N is dropping ids below
 * seq - N + 1 (XADD MINID, once per batch, on its last entry). Events past the retention age are
 * dropped by READ, before anything is read. A conversation idle for longer than the retention
 * age has nothing left to keep, so the stream expires then; tokens leave its expiry alone, since
 * a run always follows its tokens with its terminal event, which refreshes it.
 */
export const APPEND_LUA = `${NOW_MS}
local function newEpoch(epochKey)
  local t = redis.call('TIME')
  local epoch = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('SET', epochKey, epoch)
  return epoch
end
local function appendEvents(stream, counter, epochKey, bodies, maxLen, maxAgeMs, channel, keepExpiry, floorEpoch, floorSeq)
  local count = #bodies
  local last = redis.call('INCRBY', counter, count)
  local first = last - count + 1
  local epoch
  if first == 1 then
    epoch = newEpoch(epochKey)
  else
    epoch = redis.call('GET', epochKey) or ''
  end
  if epoch == floorEpoch and first <= tonumber(floorSeq) then
    -- The log went back below a seq the appender was given in this epoch: number on past it,
    -- so that no seq is given twice, under a new epoch, so that every follower learns of it.
    last = tonumber(floorSeq) + count
    first = last - count + 1
    redis.call('SET', counter, last)
    epoch = newEpoch(epochKey)
  end
  local now = nowMs()
  for i = 1, count - 1 do
    redis.call('XADD', stream, (first + i - 1) .. '-0', 't', now, 'e', bodies[i])
  end
  redis.call('XADD', stream, 'MINID', math.max(0, last - tonumber(maxLen) + 1), last .. '-0', 't', now, 'e', bodies[count])
  if keepExpiry ~= '1' then redis.call('PEXPIRE', stream, maxAgeMs) end
  redis.call('PUBLISH', channel, first .. ' ' .. now .. ' ' .. epoch .. ' ' .. table.concat(bodies, '\\n'))
  return first, now, epoch
end
local function appendEvent(stream, counter, epochKey, body, maxLen, maxAgeMs, channel, floorEpoch, floorSeq)
  return appendEvents(stream, counter, epochKey, {body}, maxLen, maxAgeMs, channel, '', floorEpoch, floorSeq)
end
-- Fencing (see RunLeases): an executor appends only while the run's lease is still at the epoch
-- it acquired it at; a survivor that took the run over has moved the epoch on. The epochs are
-- the leases' on one Redis, the conversation's own fence on a cluster (./fences.ts), in the
-- conversation's slot. An unfenced append gives the epoch ''.
local function fencedOff(epochs, runId, leaseEpoch)
  return leaseEpoch ~= '' and redis.call('HGET', epochs, runId) ~= leaseEpoch
end
`;

/**
 * KEYS: stream, counter, the run epochs it is fenced by (a hash from run id to epoch), log epoch,
 * then, when the batch has replies (the messages of its AgentCompleted events), the
 * conversation's messages and each reply's key by id.
 * ARGV: max length, max age ms, channel, run id, lease epoch ('' for an unfenced append), '1' to
 * leave the expiry alone, the epoch and seq of this process's previous append to the log (or ''
 * and 0), how many replies, per reply its event's place in the batch (from 1) and its JSON up to
 * its seq, then the bodies' JSON, in order.
 * Returns {first seq, timestamp ms, epoch}, or nil when fenced off (and then it stored nothing).
 */
const APPEND = new LuaScript(`${APPEND_LUA}${MESSAGE_LUA}
-- Once per batch: its events are all of one run.
if fencedOff(KEYS[3], ARGV[4], ARGV[5]) then return nil end
local replies = tonumber(ARGV[9])
local first, now, epoch = appendEvents(KEYS[1], KEYS[2], KEYS[4], {unpack(ARGV, 10 + 2 * replies)}, ARGV[1], ARGV[2], ARGV[3], ARGV[6], ARGV[7], ARGV[8])
-- A reply is stored with its event, numbered with its seq: whoever sees the event finds it.
for i = 1, replies do
  local seq = first + tonumber(ARGV[8 + 2 * i]) - 1
  addMessage(KEYS[5 + i], KEYS[5], ARGV[9 + 2 * i] .. seq .. '}', seq)
end
return {first, now, epoch}
`);

/**
 * The log's epoch, or false while it has no counter: a log with no event has renumbered nothing,
 * and the append that begins it draws the epoch its followers then hold.
 */
const EPOCH_LUA = `
local function epochOf(counter, epochKey)
  if redis.call('EXISTS', counter) == 0 then return false end
  return redis.call('GET', epochKey) or ''
end
`;

/**
 * KEYS: stream, counter, epoch. ARGV: afterSeq, limit, max age ms.
 * Returns {0, firstRetainedSeq, epoch} when events right after afterSeq are gone (trimmed, or
 * lost by a log that went back), {2, lastSeq,
 * epoch} when afterSeq is past the log's end (which only a lost log leaves a cursor at), else
 * {1, entries, epoch}.
 */
const READ = new LuaScript(`${NOW_MS}${TRIM_BY_AGE}${EPOCH_LUA}
trimByAge(KEYS[1], nowMs() - tonumber(ARGV[3]))
local afterSeq = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local epoch = epochOf(KEYS[2], KEYS[3])
if afterSeq > last then return {2, last, epoch} end
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local firstSeq = last + 1
if first then firstSeq = tonumber(string.match(first[1], '^(%d+)')) end
if afterSeq < firstSeq - 1 then return {0, firstSeq, epoch} end
local entries = redis.call('XRANGE', KEYS[1], (afterSeq + 1) .. '-0', '+', 'COUNT', ARGV[2])
-- Past a log that went back, numbering went on past the seqs it lost (see appendEvents): a hole.
local nextSeq = entries[1] and tonumber(string.match(entries[1][1], '^(%d+)'))
if nextSeq and nextSeq ~= afterSeq + 1 then return {0, nextSeq, epoch} end
return {1, entries, epoch}
`);

/** KEYS: counter, epoch. Returns {lastSeq, epoch}. */
const POSITION = new LuaScript(`${EPOCH_LUA}
return {tonumber(redis.call('GET', KEYS[1]) or '0'), epochOf(KEYS[1], KEYS[2])}
`);

/** KEYS: stream, counter, epoch. Returns {newest retained entry or false, epoch}. */
const NEWEST = new LuaScript(`${EPOCH_LUA}
return {redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1] or false, epochOf(KEYS[2], KEYS[3])}
`);

/** Where an append script put its events: the first one's seq, their timestamp (ms) and the log's epoch. */
export type AppendedAt = [first: number, atMs: number, epoch: string];

export class RedisEventLog implements EventLog {
  /** Live delivery: the append script publishes on its channels, listeners hear through it. */
  readonly channel: RedisEventChannel;
  /** What this process's appends were given lately, for the script to see a log that went back. */
  private readonly floors = new SeqFloors(FLOORS_KEPT);

  /**
   * @param fenceOf the key of the run epochs that fence a conversation's appends: the leases'
   *   (RedisRunLeases) on one Redis, the conversation's fence (RedisRunFences) on a cluster
   * @param messages where the reply an AgentCompleted carries is stored, by the append itself
   */
  constructor(
    private readonly redis: RedisConnection,
    private readonly retention: RetentionPolicy,
    private readonly fenceOf: (conversationId: string) => string,
    private readonly messages: RedisMessageStore,
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
    const replies = repliesOf(events);
    // On a cluster a message's index by id is in another slot: written before the message (see
    // ./locator.ts). Only a run's last batch has a reply; a token batch does not wait here.
    if (replies.length > 0) await Promise.all(replies.map(({ message }) => this.messages.index(message)));
    const replyKeys =
      replies.length === 0 ? [] : [this.redis.conversationKey(conversationId, 'msgs'), ...replies.map(({ message }) => this.messages.keys(message)[0])];
    const stored = await this.appendThrough(events, async (floor) => {
      const reply = await this.redis.eval<AppendedAt | null>(
        APPEND,
        [...this.appendKeys(conversationId), this.fenceOf(conversationId), this.epochKey(conversationId), ...replyKeys],
        [
          maxEventsPerConversation,
          maxAgeMs,
          this.channel.channel(conversationId),
          head.runId,
          leaseEpoch ?? '',
          keepExpiry,
          ...floorArgs(floor),
          replies.length,
          ...replies.flatMap(({ place, message }) => [place, unnumberedJson(message)]),
          ...events.map(bodyOf),
        ],
      );
      if (reply !== null) return reply;
      // Fenced off: no reply was stored, so its index names nothing.
      await this.messages.forget(replies.map(({ message }) => message.id));
      throw new LeaseLostError(head.runId);
    });
    return stored!;
  }

  /**
   * Appends `events` (of one run, in order) through `append`: a script call that appends them as
   * `appendEvents` does, with the floor of this process's previous append to the log, maybe
   * among changes of its own, and answers where they went (null when it changed nothing, and
   * then neither does this). They are numbered, delivered to this process's listeners and
   * remembered as this log's own appends are.
   */
  async appendThrough(events: readonly NewEvent[], append: (floor: SeqFloor | undefined) => Promise<AppendedAt | null>): Promise<StoredEvent[] | null> {
    const { conversationId } = events[0]!;
    const floor = this.floorOf(conversationId);
    let appended = false;
    const stored = await this.channel.track(conversationId, async () => {
      const reply = await append(floor);
      if (reply === null) return { events: [] };
      appended = true;
      const [first, at, epoch] = reply;
      this.recordFloor(conversationId, epoch, Number(first) + events.length - 1);
      const timestamp = new Date(Number(at)).toISOString();
      return { events: events.map((event, i) => withSeq(event, Number(first) + i, timestamp)), epoch: epochOfReply(epoch) };
    });
    return appended ? stored : null;
  }

  /** The epoch and seq of this process's previous append to the log, for a script that appends as `appendEvents` does. */
  floorOf(conversationId: string): SeqFloor | undefined {
    return this.floors.get(conversationId);
  }

  /** Records the last seq (and the log's epoch) a script's append gave this process, for its next append to the log. */
  recordFloor(conversationId: string, epoch: Reply, lastSeq: number): void {
    this.floors.record(conversationId, String(epoch), lastSeq);
  }

  /** The first keys of `appendEvent`: stream, counter. */
  appendKeys(conversationId: string): [string, string] {
    return [this.streamKey(conversationId), this.counterKey(conversationId)];
  }

  /** The third key of `appendEvent`: where the log's epoch is kept, beside its counter. */
  epochKey(conversationId: string): string {
    return this.redis.conversationKey(conversationId, 'epoch');
  }

  /**
   * The arguments of `appendEvent` after its keys: body JSON, max length, max age ms, channel,
   * and the epoch and seq of this process's previous append to the log ('' and 0 for none).
   */
  appendArgs(event: NewEvent): [string, number, number, string, string, number] {
    const floor = this.floorOf(event.conversationId);
    return [bodyOf(event), ...this.appendLimits(event.conversationId), ...floorArgs(floor)];
  }

  /** The arguments of `appendEvent` after the body: max length, max age ms, channel. */
  appendLimits(conversationId: string): [number, number, string] {
    return [this.retention.maxEventsPerConversation, this.retention.maxAgeMs, this.channel.channel(conversationId)];
  }

  /**
   * The event as stored with the seq, time and log epoch `appendEvent` answered, that seq
   * recorded for this process's next append to the log. When this process listens to the
   * conversation, it is also what its own notification will deliver.
   */
  stored(event: NewEvent, seq: Reply, at: Reply, epoch: Reply): StoredEvent {
    this.recordFloor(event.conversationId, epoch, Number(seq));
    return this.channel.rememberOwn([withSeq(event, Number(seq), new Date(Number(at)).toISOString())])[0]!;
  }

  async read(conversationId: string, afterSeq: number, limit: number, view?: LogView): Promise<StoredEvent[]> {
    if (limit <= 0) {
      // Still answer EVENTS_EXPIRED for a cursor that is gone, as the memory log does.
      await this.read(conversationId, afterSeq, 1, view);
      return [];
    }
    const reply = await this.redis.eval<[number, Reply, Reply]>(
      READ,
      [this.streamKey(conversationId), this.counterKey(conversationId), this.epochKey(conversationId)],
      [Math.max(0, Math.floor(afterSeq)), limit, this.retention.maxAgeMs],
    );
    const [status, found, epoch] = reply;
    this.checkEpoch(conversationId, view, epoch);
    // A cursor past the end was given out by a log that has been lost since.
    if (Number(status) === 2) throw logLost(conversationId);
    if (Number(status) === 0) throw eventsExpired(afterSeq, Number(found));
    return (found as Reply[]).map((entry) => decodeEntry(conversationId, entry));
  }

  async lastSeq(conversationId: string, view?: LogView): Promise<number> {
    const [lastSeq, epoch] = await this.redis.eval<[number, Reply]>(POSITION, [this.counterKey(conversationId), this.epochKey(conversationId)], []);
    this.checkEpoch(conversationId, view, epoch);
    return Number(lastSeq);
  }

  listen(conversationId: string, listener: LogListener): () => void {
    return this.channel.listen(conversationId, listener);
  }

  /** Stops reacting to resubscriptions; the connection itself belongs to the backend. */
  close(): void {
    this.channel.close();
  }

  /** The newest retained event and the log's epoch, for the channel to announce. */
  private async newest(conversationId: string): Promise<Announcement | null> {
    const [entry, epoch] = await this.redis.eval<[Reply, Reply]>(
      NEWEST,
      [this.streamKey(conversationId), this.counterKey(conversationId), this.epochKey(conversationId)],
      [],
    );
    if (entry === null) return null;
    return { event: decodeEntry(conversationId, entry), epoch: epoch === null ? undefined : String(epoch) };
  }

  /** Throws when `view` has seen another log than the one that answered (no epoch: a log without events). */
  private checkEpoch(conversationId: string, view: LogView | undefined, epoch: Reply): void {
    if (view && epoch !== null && !sameLog(view, String(epoch))) throw logLost(conversationId);
  }

  private streamKey(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'ev');
  }

  private counterKey(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'seq');
  }
}

/** The messages the batch's AgentCompleted events carry, with their events' places in it (from 1). */
function repliesOf(events: readonly NewEvent[]): { place: number; message: MessageRecord }[] {
  const replies: { place: number; message: MessageRecord }[] = [];
  for (const [i, event] of events.entries()) if (event.type === 'AgentCompleted') replies.push({ place: i + 1, message: event.message });
  return replies;
}
