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
 * Live delivery: one subscription per conversation per process, whatever the number of
 * listeners, over the process's one subscriber connection. Pub/sub is at most once, so whenever
 * a subscription has just become active (first listener, or after a reconnect) the newest
 * retained event is announced again: a follower that missed anything sees a seq past its cursor
 * and reads the gap from the log. Listeners must therefore drop seqs they already have (the
 * follower does).
 */
import { LuaScript, type RedisConnection, type Reply } from './connection.ts';
import { eventsExpired, LeaseLostError, withSeq, type EventLog, type RetentionPolicy } from '../event-log.ts';
import type { NewEvent, StoredEvent } from '../../domain/events.ts';

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
 * The events get consecutive seqs and one timestamp, and the conversation's channel one message
 * for all of them: `<first seq> <timestamp ms> <body>\n<body>…`, the bodies in seq order (JSON
 * has no raw newline, so the newline separates them). One event is the same with one body.
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
 * KEYS: stream, counter, lease epochs. ARGV: max length, max age ms, channel, run id, lease epoch
 * ('' for an unfenced append), '1' to leave the expiry alone, then the bodies' JSON, in order.
 * Returns {first seq, timestamp ms}, or nil when fenced off.
 */
const APPEND = new LuaScript(`${APPEND_LUA}
-- Fencing (see RunLeases): an executor appends only while the run's lease is still at the epoch
-- it acquired it at; a survivor that took the run over has moved the epoch on. Once per batch:
-- its events are all of that one run.
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

type Listener = (event: StoredEvent) => void;

/** This process's appends to one conversation, and the notifications held for their replies. */
interface Flight {
  sent: number;
  answered: number;
  /** `waitsFor`: the appends sent when the notification came, whose replies it waits for. */
  held: { message: string; waitsFor: number }[];
}

/** Batches appended here whose own notification has not come back yet, at most this many. */
const OWN_APPENDS_KEPT = 1024;

export class RedisEventLog implements EventLog {
  /** Per conversation: this process's listeners, and how to drop the one subscription they share. */
  private readonly listeners = new Map<string, { set: Set<Listener>; stop: () => void }>();
  private readonly stopHook: () => void;
  /**
   * This process's appends to conversations it listens to, a batch by `conversationId firstSeq`:
   * their notification comes back through pub/sub, and is delivered as these objects instead of
   * parsing the JSON just written. Bounded, should a notification never come.
   */
  private readonly ownAppends = new Map<string, StoredEvent[]>();
  /**
   * Per conversation listened to: how many of this process's appends were sent and answered,
   * and the notifications that came while some were unanswered, held (in order) until those
   * replies have told which of them are ours, since Redis may send a notification before the
   * reply of the script that sent it. A held notification waits only for the appends sent
   * before it came (a later one cannot have sent it).
   */
  private readonly inFlight = new Map<string, Flight>();

  /** @param leaseEpochs the key of the runs' lease epochs (RedisRunLeases), for fenced appends */
  constructor(
    private readonly redis: RedisConnection,
    private readonly retention: RetentionPolicy,
    private readonly leaseEpochs: string,
  ) {
    this.stopHook = redis.onSubscribed((channel) => {
      const conversationId = this.conversationOf(channel);
      if (conversationId !== null) this.announceNewest(conversationId);
    });
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
    const flight = this.listeners.has(conversationId) ? this.flightOf(conversationId) : null;
    if (flight) flight.sent += 1;
    try {
      const reply = await this.redis.eval<[number, number] | null>(
        APPEND,
        [...this.appendKeys(conversationId), this.leaseEpochs],
        [maxEventsPerConversation, maxAgeMs, this.channel(conversationId), head.runId, leaseEpoch ?? '', keepExpiry, ...events.map(body)],
      );
      if (reply === null) throw new LeaseLostError(head.runId);
      const timestamp = new Date(Number(reply[1])).toISOString();
      return this.remember(events.map((event, i) => withSeq(event, Number(reply[0]) + i, timestamp)));
    } finally {
      if (flight) {
        flight.answered += 1;
        this.releaseHeld(conversationId, flight);
      }
    }
  }

  private flightOf(conversationId: string): Flight {
    let flight = this.inFlight.get(conversationId);
    if (!flight) {
      flight = { sent: 0, answered: 0, held: [] };
      this.inFlight.set(conversationId, flight);
    }
    return flight;
  }

  /** Delivers the held notifications whose turn has come: ours, or any once the replies it waited for are in. */
  private releaseHeld(conversationId: string, flight: Flight): void {
    while (flight.held.length > 0) {
      const { message, waitsFor } = flight.held[0]!;
      if (flight.answered < waitsFor && !this.ownAppends.has(this.ownKey(conversationId, message))) break;
      flight.held.shift();
      const listeners = this.listeners.get(conversationId);
      if (listeners) this.deliverNow(conversationId, message, listeners.set);
    }
    if (flight.answered === flight.sent && flight.held.length === 0 && this.inFlight.get(conversationId) === flight) this.inFlight.delete(conversationId);
  }

  /** The keys of `appendEvent`: stream, counter. */
  appendKeys(conversationId: string): [string, string] {
    return [this.streamKey(conversationId), this.counterKey(conversationId)];
  }

  /** The arguments of `appendEvent` after its keys: body JSON, max length, max age ms, channel. */
  appendArgs(event: NewEvent): [string, number, number, string] {
    return [body(event), this.retention.maxEventsPerConversation, this.retention.maxAgeMs, this.channel(event.conversationId)];
  }

  /**
   * The event as stored with the seq and time `appendEvent` answered. When this process listens
   * to the conversation, it is also what its own notification will deliver.
   */
  stored(event: NewEvent, seq: Reply, at: Reply): StoredEvent {
    return this.remember([withSeq(event, Number(seq), new Date(Number(at)).toISOString())])[0]!;
  }

  /** Keeps a stored batch for its own notification when this process listens to its conversation. */
  private remember(batch: StoredEvent[]): StoredEvent[] {
    const head = batch[0]!;
    if (this.listeners.has(head.conversationId)) {
      this.ownAppends.set(`${head.conversationId} ${head.seq}`, batch);
      if (this.ownAppends.size > OWN_APPENDS_KEPT) this.ownAppends.delete(this.ownAppends.keys().next().value!);
    }
    return batch;
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
    return (reply[1] as Reply[]).map((entry) => this.decodeEntry(conversationId, entry));
  }

  async lastSeq(conversationId: string): Promise<number> {
    return Number((await this.redis.command<string | null>(['GET', this.counterKey(conversationId)])) ?? 0);
  }

  listen(conversationId: string, listener: Listener): () => void {
    let entry = this.listeners.get(conversationId);
    if (!entry) {
      const set = new Set<Listener>();
      // Decoded once, handed to every listener of the process: fan-out costs a function call.
      const stop = this.redis.listen(this.channel(conversationId), (message) => this.deliverMessage(conversationId, message, set));
      entry = { set, stop };
      this.listeners.set(conversationId, entry);
    }
    entry.set.add(listener);
    const owned = entry;
    return () => {
      if (!owned.set.delete(listener) || owned.set.size > 0) return;
      if (this.listeners.get(conversationId) === owned) this.listeners.delete(conversationId);
      owned.stop();
    };
  }

  /** Stops reacting to resubscriptions; the connection itself belongs to the backend. */
  close(): void {
    this.stopHook();
    for (const { stop } of this.listeners.values()) stop();
    this.listeners.clear();
  }

  /** Tells the conversation's listeners of its newest retained event, so that they see any gap. */
  private announceNewest(conversationId: string): void {
    const announce = async () => {
      await this.redis.whenReady();
      const reply = await this.redis.command<Reply[]>(['XREVRANGE', this.streamKey(conversationId), '+', '-', 'COUNT', '1']);
      const entry = reply[0];
      if (entry === undefined) return;
      const listeners = this.listeners.get(conversationId);
      if (listeners) deliver(listeners.set, this.decodeEntry(conversationId, entry));
    };
    announce().catch(() => undefined); // Redis went away again: the next resubscription retries.
  }

  private decodeEntry(conversationId: string, entry: Reply): StoredEvent {
    const [id, fields] = entry as [string, Reply[]];
    let at = 0;
    let body = '{}';
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 't') at = Number(fields[i + 1]);
      else if (fields[i] === 'e') body = String(fields[i + 1]);
    }
    return this.build(conversationId, Number(id.split('-')[0]), at, body);
  }

  /** Delivers a notification now, or holds it while one of our replies could make it ours. */
  private deliverMessage(conversationId: string, message: string, listeners: ReadonlySet<Listener>): void {
    const flight = this.inFlight.get(conversationId);
    if (flight && (flight.held.length > 0 || (flight.answered < flight.sent && !this.ownAppends.has(this.ownKey(conversationId, message))))) {
      flight.held.push({ message, waitsFor: flight.sent });
      return;
    }
    this.deliverNow(conversationId, message, listeners);
  }

  /** `conversationId firstSeq`: the key of a notification's batch in ownAppends. */
  private ownKey(conversationId: string, message: string): string {
    return `${conversationId} ${message.slice(0, message.indexOf(' '))}`;
  }

  /**
   * Delivers the events of one notification (see APPEND_LUA), in order: this process's own
   * appends as the objects it appended, the others parsed from their bodies.
   */
  private deliverNow(conversationId: string, message: string, listeners: ReadonlySet<Listener>): void {
    const first = message.indexOf(' ');
    const second = message.indexOf(' ', first + 1);
    if (first < 0 || second < 0) return;
    const firstSeq = message.slice(0, first);
    const ownKey = `${conversationId} ${firstSeq}`;
    const own = this.ownAppends.get(ownKey);
    if (own) {
      this.ownAppends.delete(ownKey);
      for (const event of own) deliver(listeners, event);
      return;
    }
    const at = Number(message.slice(first + 1, second));
    for (let start = second + 1, seq = Number(firstSeq); start <= message.length; seq += 1) {
      const newline = message.indexOf('\n', start);
      const end = newline < 0 ? message.length : newline;
      const event = this.parse(conversationId, seq, at, message.slice(start, end));
      if (event) deliver(listeners, event);
      start = end + 1;
    }
  }

  private parse(conversationId: string, seq: number, at: number, body: string): StoredEvent | null {
    try {
      return this.build(conversationId, seq, at, body);
    } catch {
      return null;
    }
  }

  private build(conversationId: string, seq: number, at: number, body: string): StoredEvent {
    const parsed = JSON.parse(body) as NewEvent;
    parsed.conversationId = conversationId;
    return withSeq(parsed, seq, new Date(at).toISOString());
  }

  private streamKey(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'ev');
  }

  private counterKey(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'seq');
  }

  private channel(conversationId: string) {
    return this.redis.conversationKey(conversationId, 'bell');
  }

  private conversationOf(channel: string): string | null {
    const match = /^c:\{(.*)\}:bell$/.exec(channel.slice(this.redis.prefix.length));
    return channel.startsWith(this.redis.prefix) && match ? (match[1] ?? null) : null;
  }
}

/** What the stream and the notification hold of an event: all but its conversation id, as JSON. */
function body(event: NewEvent): string {
  const { conversationId: _inTheKeys, ...rest } = event;
  return JSON.stringify(rest);
}

function deliver(listeners: ReadonlySet<Listener>, event: StoredEvent): void {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch {
      // A listener's failure is its own; the others still hear of the event.
    }
  }
}
