/**
 * Live delivery of a conversation's events over Redis pub/sub: the doorbell, never the letter.
 * Whoever appends an event publishes it on the conversation's channel (`…:bell`) once it is
 * durable; every process listens with one subscription per conversation, whatever the number of
 * its listeners, over its one subscriber connection.
 *
 * A notification is `<first seq> <timestamp ms> <epoch> <body>\n<body>…`: the epoch of the log
 * the events were appended to (empty where logs have none: see LogView), then the bodies of a
 * batch of consecutive events in seq order, each its JSON without the conversation id (JSON has
 * no raw newline, so the newline separates them).
 *
 * Pub/sub is at most once, so whenever a subscription has just become active (first listener,
 * or after a reconnect) the conversation's newest event is announced again, with its log's
 * epoch: a follower that missed anything sees a seq past its cursor and reads the gap from the
 * log, one whose log was lost meanwhile sees another epoch, and one whose log went back (a
 * restart from an older snapshot, a failover to a replica without the latest writes) sees a seq
 * before its cursor, told again, and reads to learn which. Listeners must therefore drop seqs
 * they already have (the follower does).
 *
 * A process's own appends reach its listeners at the append's reply, as the objects it appended,
 * without waiting for their notification, which comes on the other connection and mostly later:
 * a watcher on the appending process sees each event sooner, and sees it while that connection
 * is down too; the notification, when it comes, is recognised and dropped.
 * Where that could put an event before one it follows (another of this process's appends to the
 * conversation still unanswered, or a notification held for them), the batch waits for its
 * notification instead. Redis may send a notification before the reply of the command that caused
 * it, so `track` holds notifications while one of this process's appends to the conversation is
 * unanswered, until the replies tell which of them are its own.
 */
import { withSeq, type LogListener } from '../event-log.ts';
import type { NewEvent, StoredEvent } from '../../domain/events.ts';
import type { RedisConnection, Reply } from './connection.ts';
import { ListenersByKey } from '../listeners-by-key.ts';

/** What a (re)subscription announces: the conversation's newest event, and its log's epoch where logs have one. */
export interface Announcement {
  event: StoredEvent;
  epoch?: string;
}

/** What an append tracked by `track` answered: its events as stored, and the log's epoch where logs have one. */
export interface OwnAppend {
  events: StoredEvent[];
  epoch?: string;
}

/** This process's appends to one conversation, and the notifications held for their replies. */
interface Flight {
  sent: number;
  answered: number;
  /** `waitsFor`: the appends sent when the notification came, whose replies it waits for. */
  held: { message: string; waitsFor: number }[];
}

/** Batches appended here whose own notification has not come back yet, at most this many. */
const OWN_APPENDS_KEPT = 1024;
/** Kept in place of a batch delivered at its reply: its notification then delivers nothing. */
const DELIVERED: readonly StoredEvent[] = Object.freeze([]);

export class RedisEventChannel {
  /**
   * Per conversation: this process's listeners, which share one subscription. Nothing else is
   * held per conversation while idle: every channel is heard through `onBell`, and `inFlight`
   * has entries only while appends are unanswered.
   */
  private readonly listeners = new ListenersByKey<LogListener>();
  /** Hears the channel of every conversation listened to. */
  private readonly onBell = (message: string, channel: string): void => {
    const conversationId = this.conversationOf(channel);
    if (conversationId !== null) this.deliverMessage(conversationId, message);
  };
  private readonly stopHook: () => void;
  /** This process's appends to conversations it listens to, a batch by `conversationId firstSeq`; bounded. */
  private readonly ownAppends = new Map<string, readonly StoredEvent[]>();
  /** Per conversation listened to: this process's appends sent and answered, and the notifications held meanwhile. */
  private readonly inFlight = new Map<string, Flight>();

  /** @param newest the conversation's newest stored event (null when it has none), announced on every (re)subscription */
  constructor(
    private readonly redis: RedisConnection,
    private readonly newest: (conversationId: string) => Promise<Announcement | null>,
  ) {
    this.stopHook = redis.onSubscribed((channel) => {
      const conversationId = this.conversationOf(channel);
      if (conversationId !== null) this.announceNewest(conversationId);
    });
  }

  /** The conversation's channel, for a script that publishes its notification itself. */
  channel(conversationId: string): string {
    return this.redis.conversationKey(conversationId, 'bell');
  }

  /** Publishes a stored batch of one conversation (consecutive seqs, one timestamp) of a log without epochs. */
  async publish(batch: readonly StoredEvent[]): Promise<void> {
    const head = batch[0];
    if (head === undefined) return;
    const message = `${head.seq} ${Date.parse(head.timestamp)}  ${batch.map(bodyOf).join('\n')}`;
    await this.track(head.conversationId, async () => {
      await this.redis.publish(this.channel(head.conversationId), message);
      return { events: [...batch] };
    });
  }

  /**
   * Runs `append`, a command that stores (and publishes) events of the conversation and resolves
   * with them as stored: they are delivered to this process's listeners as those objects, at the
   * reply or, early or late, at their notification.
   */
  async track(conversationId: string, append: () => Promise<OwnAppend>): Promise<StoredEvent[]> {
    const flight = this.listeners.has(conversationId) ? this.flightOf(conversationId) : null;
    if (flight) flight.sent += 1;
    let own: OwnAppend | null = null;
    try {
      own = await append();
      return this.rememberOwn(own.events);
    } finally {
      if (flight) {
        flight.answered += 1;
        this.releaseHeld(conversationId, flight);
        if (own) this.deliverAtReply(conversationId, own, flight);
      }
    }
  }

  listen(conversationId: string, listener: LogListener): () => void {
    // Decoded once, handed to every listener of the process: fan-out costs a function call.
    if (this.listeners.add(conversationId, listener)) this.redis.listen(this.channel(conversationId), this.onBell);
    return () => {
      if (this.listeners.remove(conversationId, listener)) this.redis.unlisten(this.channel(conversationId), this.onBell);
    };
  }

  /** Stops reacting to resubscriptions; the connection itself belongs to the backend. */
  close(): void {
    this.stopHook();
    for (const conversationId of this.listeners.keys()) this.redis.unlisten(this.channel(conversationId), this.onBell);
    this.listeners.clear();
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
      if (flight.answered < waitsFor && !this.ownAppends.has(this.notificationKey(conversationId, message))) break;
      flight.held.shift();
      const listeners = this.listeners.of(conversationId);
      if (listeners.length > 0) this.deliverNow(conversationId, message, listeners);
    }
    if (flight.answered === flight.sent && flight.held.length === 0 && this.inFlight.get(conversationId) === flight) this.inFlight.delete(conversationId);
  }

  /**
   * Delivers a batch of this process's own at its reply, unless its notification came first (and
   * was delivered as it was released), or something could come before it: another of this
   * process's appends to the conversation unanswered, or a notification still held for one.
   */
  private deliverAtReply(conversationId: string, { events, epoch }: OwnAppend, flight: Flight): void {
    const head = events[0];
    if (head === undefined || flight.answered < flight.sent || flight.held.length > 0) return;
    const key = ownKey(conversationId, head.seq);
    const listeners = this.listeners.of(conversationId);
    if (listeners.length === 0 || this.ownAppends.get(key) !== events) return;
    this.ownAppends.set(key, DELIVERED);
    for (const event of events) deliver(listeners, event, epoch, false);
  }

  /** Keeps a batch stored here for its own notification when this process listens to its conversation. */
  rememberOwn(batch: StoredEvent[]): StoredEvent[] {
    const head = batch[0];
    if (head && this.listeners.has(head.conversationId)) {
      this.ownAppends.set(ownKey(head.conversationId, head.seq), batch);
      if (this.ownAppends.size > OWN_APPENDS_KEPT) this.ownAppends.delete(this.ownAppends.keys().next().value!);
    }
    return batch;
  }

  /** Tells the conversation's listeners of its newest event, so that they see any gap. */
  private announceNewest(conversationId: string): void {
    const announce = async () => {
      await this.redis.whenReady();
      const newest = await this.newest(conversationId);
      const listeners = this.listeners.of(conversationId);
      if (newest && listeners.length > 0) deliver(listeners, newest.event, newest.epoch, true);
    };
    announce().catch(() => undefined); // Redis went away again: the next resubscription retries.
  }

  /** Delivers a notification now, or holds it while one of our replies could make it ours. */
  private deliverMessage(conversationId: string, message: string): void {
    const flight = this.inFlight.get(conversationId);
    if (flight && (flight.held.length > 0 || (flight.answered < flight.sent && !this.ownAppends.has(this.notificationKey(conversationId, message))))) {
      flight.held.push({ message, waitsFor: flight.sent });
      return;
    }
    const listeners = this.listeners.of(conversationId);
    if (listeners.length > 0) this.deliverNow(conversationId, message, listeners);
  }

  /** The key in ownAppends of a notification's batch (see `ownKey`). */
  private notificationKey(conversationId: string, message: string): string {
    return ownKey(conversationId, message.slice(0, message.indexOf(' ')));
  }

  /** Delivers the events of one notification, in order: this process's own appends as the objects it appended, the others parsed. */
  private deliverNow(conversationId: string, message: string, listeners: readonly LogListener[]): void {
    const first = message.indexOf(' ');
    const second = message.indexOf(' ', first + 1);
    const third = message.indexOf(' ', second + 1);
    if (first < 0 || second < 0 || third < 0) return;
    const firstSeq = message.slice(0, first);
    const epoch = third > second + 1 ? detached(message.slice(second + 1, third)) : undefined;
    const key = ownKey(conversationId, firstSeq);
    const own = this.ownAppends.get(key);
    if (own) {
      this.ownAppends.delete(key);
      for (const event of own) deliver(listeners, event, epoch, false);
      return;
    }
    const at = Number(message.slice(first + 1, second));
    for (let start = third + 1, seq = Number(firstSeq); start <= message.length; seq += 1) {
      const newline = message.indexOf('\n', start);
      const end = newline < 0 ? message.length : newline;
      const event = parse(conversationId, seq, at, message.slice(start, end));
      if (event) deliver(listeners, event, epoch, false);
      start = end + 1;
    }
  }

  private conversationOf(channel: string): string | null {
    return this.redis.keys.conversationOf(channel, 'bell');
  }
}

/** What a stream entry and a notification hold of an event: all but its conversation id, as JSON. */
export function bodyOf(event: NewEvent): string {
  const { conversationId: _inTheKeys, ...rest } = event;
  return JSON.stringify(rest);
}

/** The stored event that `body` (see `bodyOf`) numbered `seq` at `atMs` is. */
export function eventFromBody(conversationId: string, seq: number, atMs: number, body: string): StoredEvent {
  const parsed = JSON.parse(body) as NewEvent;
  parsed.conversationId = conversationId;
  return withSeq(parsed, seq, new Date(atMs).toISOString());
}

/** The stored event a stream entry (`<seq>-0`, fields `t` ms and `e` body) holds. */
export function decodeEntry(conversationId: string, entry: Reply): StoredEvent {
  const [id, fields] = entry as [string, Reply[]];
  let at = 0;
  let body = '{}';
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 't') at = Number(fields[i + 1]);
    else if (fields[i] === 'e') body = String(fields[i + 1]);
  }
  return eventFromBody(conversationId, Number(id.split('-')[0]), at, body);
}

function parse(conversationId: string, seq: number, at: number, body: string): StoredEvent | null {
  try {
    return eventFromBody(conversationId, seq, at, body);
  } catch {
    return null;
  }
}

/** Where ownAppends keeps a batch of this process's own: `conversationId firstSeq`. */
function ownKey(conversationId: string, firstSeq: number | string): string {
  return `${conversationId} ${firstSeq}`;
}

/** A log's epoch as an append script answers it, as its listeners are told it: none where empty, as in a notification. */
export function epochOfReply(epoch: Reply): string | undefined {
  const text = String(epoch);
  return text === '' ? undefined : text;
}

/**
 * `slice` as a string that holds only its own characters: V8 makes a slice of 13 characters or
 * more a view that keeps the whole string alive, and an epoch outlives its notification in every
 * follower's view of the log (see LogView).
 */
function detached(slice: string): string {
  return ` ${slice}`.slice(1);
}

function deliver(listeners: readonly LogListener[], event: StoredEvent, epoch: string | undefined, again: boolean): void {
  for (let index = 0; index < listeners.length; index += 1) {
    try {
      listeners[index]!(event, epoch, again);
    } catch {
      // A listener's failure is its own; the others still hear of the event.
    }
  }
}
