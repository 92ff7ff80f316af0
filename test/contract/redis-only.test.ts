/**
 * What only the Redis backend has to show: one pub/sub subscription per conversation per
 * process however many follow it, a process's own appends heard at their reply, followers that
 * lose nothing when the subscriber connection drops, an outage that fails commands fast and is
 * recovered from without loss, a stalled Redis whose commands fail once unanswered for the
 * command timeout, and a log that Redis lost and that was begun again, which no follower takes
 * for the one it followed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import type { StoredEvent } from '../../src/domain/events.ts';
import { GatewayError } from '../../src/errors.ts';
import { followConversation } from '../../src/events/follow.ts';
import { withSeq, type EventLog, type LogListener } from '../../src/store/event-log.ts';
import type { Backend } from '../../src/store/interfaces.ts';
import type { ListenersByKey } from '../../src/store/listeners-by-key.ts';
import { RedisConnection } from '../../src/store/redis/connection.ts';
import { RedisEventChannel } from '../../src/store/redis/event-channel.ts';
import { createRedisBackend } from '../../src/store/redis/index.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, collect, helloRun, helloSend, inputRequest, token, until } from './worlds.ts';

const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('the Redis backend', () => {
  let redis: TestRedis;
  let admin: ReturnType<typeof createClient>;
  const opened: Backend[] = [];
  const open = async (keyPrefix: string) => {
    const backend = await createRedisBackend(redis.url, { ...BACKEND_SETTINGS, retention: DEFAULT_RETENTION, keyPrefix });
    opened.push(backend);
    return backend;
  };

  beforeAll(async () => {
    redis = await startRedis({ persistent: true });
    admin = createClient({ url: redis.url, socket: { reconnectStrategy: 50 } });
    admin.on('error', () => undefined);
    await admin.connect();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((backend) => backend.close()));
  });
  afterAll(async () => {
    admin?.destroy();
    await redis?.stop();
  });

  const subscribers = async (channel: string) => {
    const reply = (await admin.sendCommand(['PUBSUB', 'NUMSUB', channel])) as [string, number];
    return Number(reply[1]);
  };

  /**
   * Runs `meanwhile` with every pub/sub connection dropped and kept out (no room for new
   * clients), as while Redis restarts; they come back once it is done.
   */
  const whileSubscriptionsDown = async (meanwhile: () => Promise<void>) => {
    const info = String(await admin.sendCommand(['INFO', 'clients']));
    const connected = Number(/connected_clients:(\d+)/.exec(info)?.[1]);
    await admin.sendCommand(['CONFIG', 'SET', 'maxclients', String(connected - 2)]);
    try {
      await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      await meanwhile();
    } finally {
      await admin.sendCommand(['CONFIG', 'SET', 'maxclients', '10000']);
    }
  };

  it('leaves no key of a deleted conversation behind, nor of its messages, runs or idempotency keys', async () => {
    const prefix = `t-${randomUUID()}:`;
    const backend = await open(prefix);
    const keysNow = async () => (await admin.keys(`${prefix}*`)).sort();
    const before = await keysNow();
    const conversationId = randomUUID();
    for (let i = 0; i < 3; i += 1) {
      const run = helloRun(conversationId);
      await backend.sends.commit({ ...helloSend(run), idempotencyKey: `send:${randomUUID()}` });
      await backend.events.append(token(conversationId, 'Hi', run.id));
      await backend.runQueue.remove(conversationId, run.id);
      await backend.leases.release(run.id, null);
    }
    expect((await keysNow()).length).toBeGreaterThan(before.length + 3 * 3);
    expect(await backend.deleteConversation(conversationId)).toBe(true);
    // The lease structures are shared by every run (and were there before, empty or not).
    const shared = new Set(['leases', 'lease-info', 'lease-epoch', 'lease-epochs'].map((name) => prefix + name));
    expect((await keysNow()).filter((key) => !shared.has(key))).toEqual(before.filter((key) => !shared.has(key)));
  });

  it('holds one subscription per conversation per process, however many follow it, until the last leaves', async () => {
    const prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(prefix), await open(prefix)];
    const [x, y] = [randomUUID(), randomUUID()];
    await a.events.append(token(x, 'x1'));
    await a.events.append(token(y, 'y1'));
    const onX = Array.from({ length: 5 }, () => collect(b, x, 1, 100));
    const onY = Array.from({ length: 3 }, () => collect(b, y, 1, 100));
    const onXfromA = Array.from({ length: 4 }, () => collect(a, x, 1, 100));
    const channel = (conversationId: string) => `${prefix}c:{${conversationId}}:bell`;
    const counts = async () => [await subscribers(channel(x)), await subscribers(channel(y))];
    // Each process subscribes (on its one subscriber connection) once: both to x, only b to y.
    await until(async () => ((await counts()).join() === '2,1' ? true : undefined), 'the subscriptions');
    for (let i = 2; i <= 4; i += 1) {
      await a.events.append(token(x, `x${i}`));
      await b.events.append(token(y, `y${i}`));
    }
    for (const follower of [...onX, ...onY, ...onXfromA]) {
      await until(async () => (follower.events.length === 3 ? true : undefined), 'three events');
      expect(follower.events.map((event) => event.seq)).toEqual([2, 3, 4]);
    }
    expect(await counts()).toEqual([2, 1]);
    // Followers leave; the subscription goes with the last of them only.
    for (const follower of [...onX.slice(1), ...onXfromA, ...onY]) follower.stop();
    await until(async () => ((await counts()).join() === '1,0' ? true : undefined), 'a and y to unsubscribe');
    await a.events.append(token(x, 'x5'));
    await until(async () => (onX[0]!.events.length === 4 ? true : undefined), 'the last follower to hear x5');
    onX[0]!.stop();
    await until(async () => ((await counts()).join() === '0,0' ? true : undefined), 'b to unsubscribe from x');
  });

  it('holds one map entry per subscribed conversation in the event channel and one in the connection, with no object or function of its own', async () => {
    const prefix = `t-${randomUUID()}:`;
    const connection = new RedisConnection({ url: redis.url, keyPrefix: prefix });
    await connection.connect();
    const [log, tail] = [new RedisEventChannel(connection, async () => null), new RedisEventChannel(connection, async () => null)];
    try {
      // Private bookkeeping, read here to count what an idle subscribed conversation holds.
      const heldBy = (channel: RedisEventChannel) => channel as unknown as { listeners: ListenersByKey<LogListener>; inFlight: Map<string, unknown> };
      const listenedTo = (channel: RedisEventChannel) => [...heldBy(channel).listeners.keys()];
      const channels = (connection as unknown as { channels: Map<string, unknown> }).channels;
      const conversations = [randomUUID(), randomUUID(), randomUUID()];
      const stops = conversations.flatMap((id) => Array.from({ length: 4 }, () => log.listen(id, () => undefined)));
      await until(
        async () => ((await Promise.all(conversations.map((id) => subscribers(log.channel(id))))).join() === '1,1,1' ? true : undefined),
        'the subscriptions',
      );

      expect(listenedTo(log).map((id) => heldBy(log).listeners.of(id).length)).toEqual([4, 4, 4]);
      expect(channels.size).toBe(3);
      // Every channel is heard through one function: nothing per conversation but the map entry.
      expect(new Set(channels.values()).size).toBe(1);
      expect(typeof channels.values().next().value).toBe('function');

      // An append in flight holds its conversation in `inFlight` until its reply and notification are in.
      const [x] = conversations as [string];
      const heard = new Promise<StoredEvent>((resolve) => stops.push(log.listen(x, resolve)));
      await log.publish([withSeq(token(x, 'hello'), 1, new Date().toISOString())]);
      expect((await heard).seq).toBe(1);
      expect(heldBy(log).inFlight.size).toBe(0);

      // A second listener of a channel (a hot tail beside the log) makes its entry a Set, until it leaves.
      const stopTail = tail.listen(x, () => undefined);
      expect(channels.get(log.channel(x))).toBeInstanceOf(Set);
      stopTail();
      expect(typeof channels.get(log.channel(x))).toBe('function');
      expect(listenedTo(tail)).toEqual([]);

      for (const stop of stops) stop();
      expect(listenedTo(log)).toEqual([]);
      expect(channels.size).toBe(0);
      await until(
        async () => ((await Promise.all(conversations.map((id) => subscribers(log.channel(id))))).join() === '0,0,0' ? true : undefined),
        'the unsubscriptions',
      );
    } finally {
      log.close();
      tail.close();
      await connection.close();
    }
  });

  it("lets an idle conversation's stream expire after the retention age, its tokens' expiry set by the events around them", async () => {
    const prefix = `t-${randomUUID()}:`;
    const backend = await createRedisBackend(redis.url, { ...BACKEND_SETTINGS, retention: { ...DEFAULT_RETENTION, maxAgeMs: 60_000 }, keyPrefix: prefix });
    opened.push(backend);
    const conversationId = randomUUID();
    const stream = `${prefix}c:{${conversationId}}:ev`;
    await backend.events.append(token(conversationId, 'first'));
    // Tokens alone leave the expiry alone: a run's tokens are always followed by its terminal event.
    expect(await admin.pTTL(stream)).toBe(-1);
    await backend.events.append({ conversationId, runId: 'r1', agentId: 'guide', type: 'AgentCancelled', reason: 'enough' });
    const ttl = await admin.pTTL(stream);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('loses nothing for followers when the subscriber connection drops while events are appended', async () => {
    const prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(prefix), await open(prefix)];
    const conversationId = randomUUID();
    await a.events.append(token(conversationId, 'first'));
    const follower = collect(b, conversationId, 0, 21);
    await until(async () => (follower.events.length === 1 ? true : undefined), 'the first event');
    await until(async () => ((await subscribers(`${prefix}c:{${conversationId}}:bell`)) === 1 ? true : undefined), 'the subscription');
    // Both processes' pub/sub connections dropped while events are appended: these
    // notifications go nowhere, and nothing follows them.
    await whileSubscriptionsDown(async () => {
      expect(await subscribers(`${prefix}c:{${conversationId}}:bell`)).toBe(0);
      for (let i = 2; i <= 21; i += 1) await a.events.append(token(conversationId, `d${i}`));
      expect(follower.events).toHaveLength(1);
    });
    // Once b has resubscribed, its follower learns of what it missed.
    expect((await follower.done).map((event) => event.seq)).toEqual(seqs(1, 21));
  });

  /**
   * A listener that keeps what it is told for the first time: a subscription that has just become
   * active tells the conversation's newest event again (see RedisEventChannel), which a follower drops.
   */
  const hearNew =
    (heard: StoredEvent[]): LogListener =>
    (event, _epoch, again) => {
      if (!again) heard.push(event);
    };

  it("tells a process's listeners of its own appends at their reply, with no notification needed", async () => {
    const prefix = `t-${randomUUID()}:`;
    const a = await open(prefix);
    const conversationId = randomUUID();
    const heard: StoredEvent[] = [];
    const stop = a.events.listen(conversationId, hearNew(heard));
    try {
      await until(async () => ((await subscribers(`${prefix}c:{${conversationId}}:bell`)) === 1 ? true : undefined), 'the subscription');
      // No notification reaches a now: whatever its listener hears, it heard at the reply.
      await whileSubscriptionsDown(async () => {
        const batch = await a.events.appendBatch([token(conversationId, 'one'), token(conversationId, 'two')]);
        expect(heard).toEqual(batch);
        expect(heard[0]).toBe(batch[0]);
        const third = await a.events.append(token(conversationId, 'three'));
        expect(heard).toHaveLength(3);
        expect(heard[2]).toBe(third);
      });
    } finally {
      stop();
    }
  });

  it('tells its listeners of each of its own appends once, at the reply or at the notification, whichever comes first', async () => {
    const prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(prefix), await open(prefix)];
    const conversationId = randomUUID();
    const heard: StoredEvent[] = [];
    const stop = a.events.listen(conversationId, hearNew(heard));
    try {
      await until(async () => ((await subscribers(`${prefix}c:{${conversationId}}:bell`)) === 1 ? true : undefined), 'the subscription');
      const own = [
        await a.events.append(token(conversationId, 'one')),
        ...(await a.events.appendBatch([token(conversationId, 'two'), token(conversationId, 'three')])),
      ];
      // b's append is heard through its notification, which comes after those of a's appends.
      await b.events.append(token(conversationId, 'four'));
      await until(async () => (heard.some((event) => event.seq === 4) ? true : undefined), "b's event");
      expect(heard.map((event) => event.seq)).toEqual([1, 2, 3, 4]);
      own.forEach((event, i) => expect(heard[i]).toBe(event));
    } finally {
      stop();
    }
  });

  it('fails fast while Redis is down, and comes back by itself with nothing lost', async () => {
    const prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(prefix), await open(prefix)];
    const conversationId = randomUUID();
    for (let i = 1; i <= 5; i += 1) await a.events.append(token(conversationId, `d${i}`));
    const follower = collect(b, conversationId, 0, 10);
    await until(async () => (follower.events.length === 5 ? true : undefined), 'the events before the outage');

    await redis.kill();
    await until(
      () =>
        a.ping().then(
          () => undefined,
          () => true,
        ),
      'ping to fail',
    );
    const failures = await Promise.all([
      a.events.append(token(conversationId, 'lost')).catch((error: unknown) => error),
      b.events.read(conversationId, 0, 10).catch((error: unknown) => error),
      a.runs.get('anything').catch((error: unknown) => error),
      a.locks.withLock('anything', async () => 'never').catch((error: unknown) => error),
      b.sends.commit(helloSend(helloRun(conversationId))).catch((error: unknown) => error),
    ]);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(GatewayError);
      expect(failure).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    }

    await redis.restart();
    await until(() => Promise.all([a.ping(), b.ping()]).then(() => true), 'both to reconnect');
    for (let i = 6; i <= 10; i += 1) await a.events.append(token(conversationId, `d${i}`));
    const events = await follower.done;
    expect(events.map((event) => event.seq)).toEqual(seqs(1, 10));
    expect(events.map((event) => event.type === 'AgentToken' && event.delta)).toEqual(seqs(1, 10).map((i) => `d${i}`));
    expect((await a.events.read(conversationId, 0, 100)).map((event) => event.seq)).toEqual(seqs(1, 10));
  });

  it('fails the commands a stalled Redis leaves unanswered past the command timeout, and serves the next once it answers again', async () => {
    const connection = new RedisConnection({ url: redis.url, keyPrefix: `t-${randomUUID()}:`, commandTimeoutMs: 300 });
    await connection.connect();
    try {
      await connection.command(['SET', connection.key('before'), 'answered']);
      redis.freeze();
      let unanswered: unknown[];
      try {
        unanswered = await Promise.all(
          Array.from({ length: 100 }, (_, n) => connection.command(['GET', connection.key(`k${n}`)]).catch((error: unknown) => error)),
        );
      } finally {
        redis.thaw();
      }
      for (const failure of unanswered) expect(failure).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(await connection.command(['GET', connection.key('before')])).toBe('answered');
    } finally {
      await connection.close();
    }
  });

  it('draws lease epochs above every one drawn before, also once Redis lost its counter or the latest increments of it', async () => {
    const prefix = `t-${randomUUID()}:`;
    const backend = await open(prefix);
    const epochOf = (holder: string) => backend.leases.acquire(randomUUID(), randomUUID(), holder, 60_000);
    const first = await epochOf('a');
    // A store of record orders changes of hands by these epochs: a counter begun again must not hand out smaller ones.
    await admin.flushAll();
    const afterLoss = await epochOf('b');
    expect(afterLoss).toBeGreaterThan(first);
    // A replica promoted without the last increments: by the time it serves, its clock has gone past them.
    const micros = async () => {
      const [seconds, fraction] = (await admin.sendCommand(['TIME'])) as [string, string];
      return Number(seconds) * 1_000_000 + Number(fraction);
    };
    await until(async () => ((await micros()) > afterLoss ? true : undefined), "Redis' clock past the last epoch");
    await admin.set(`${prefix}lease-epochs`, String(afterLoss - 1000));
    expect(await epochOf('c')).toBeGreaterThan(afterLoss);
  });

  describe('when Redis loses a log and it is begun again', () => {
    const follows: AbortController[] = [];
    afterEach(() => {
      for (const follow of follows.splice(0)) follow.abort();
    });
    /** Follows the conversation until the follow fails; what it delivered, and the failure. */
    const followUntilFailure = (log: EventLog, conversationId: string, afterSeq: number | null) => {
      const events: StoredEvent[] = [];
      const controller = new AbortController();
      follows.push(controller);
      const failure = (async () => {
        try {
          for await (const event of followConversation(log, conversationId, { afterSeq, bufferLimit: 1000, signal: controller.signal })) events.push(event);
        } catch (error) {
          return error;
        }
        return null;
      })();
      return { events, failure };
    };
    const deltas = (events: StoredEvent[]) => events.map((event) => (event.type === 'AgentToken' ? event.delta : event.type));
    const appendDeltas = async (backend: Backend, conversationId: string, ...names: string[]) => {
      for (const name of names) await backend.events.append(token(conversationId, name));
    };
    /** Five events appended through one instance and followed from the start through another. */
    const fiveEventsFollowed = async () => {
      const prefix = `t-${randomUUID()}:`;
      const [a, b] = [await open(prefix), await open(prefix)];
      const conversationId = randomUUID();
      await appendDeltas(a, conversationId, 'one', 'two', 'three', 'four', 'five');
      const follower = followUntilFailure(b.events, conversationId, 0);
      await until(async () => (follower.events.length === 5 ? true : undefined), 'the events');
      return { prefix, a, b, conversationId, follower };
    };
    /** The log of five as a replica without the last two writes has it: the same epoch, three events. */
    const loseLastTwo = async (prefix: string, conversationId: string) => {
      await admin.sendCommand(['XDEL', `${prefix}c:{${conversationId}}:ev`, '4-0', '5-0']);
      await admin.set(`${prefix}c:{${conversationId}}:seq`, '3');
    };

    it('ends a follower with EVENTS_EXPIRED at the new log, before any event numbered again', async () => {
      const prefix = `t-${randomUUID()}:`;
      const [a, b] = [await open(prefix), await open(prefix)];
      const conversationId = randomUUID();
      await appendDeltas(a, conversationId, 'old1', 'old2', 'old3');
      const fromStart = followUntilFailure(b.events, conversationId, 0);
      const liveOnly = followUntilFailure(b.events, conversationId, null);
      await until(async () => (fromStart.events.length === 3 ? true : undefined), 'the old events');
      await until(async () => ((await subscribers(`${prefix}c:{${conversationId}}:bell`)) === 1 ? true : undefined), 'the subscription');
      await appendDeltas(a, conversationId, 'old4');
      await until(async () => (liveOnly.events.length === 1 ? true : undefined), 'the live-only follower to hear old4');

      await admin.flushAll();
      // The new log passes the followers' cursor: by seq alone, 5 and 6 would look like what comes next.
      await appendDeltas(a, conversationId, 'new1', 'new2', 'new3', 'new4', 'new5', 'new6');

      for (const follower of [fromStart, liveOnly]) expect(await follower.failure).toMatchObject({ code: 'EVENTS_EXPIRED' });
      expect(deltas(fromStart.events)).toEqual(['old1', 'old2', 'old3', 'old4']);
      expect(deltas(liveOnly.events)).toEqual(['old4']);
      // The new log is whole, for whoever reloads.
      expect(deltas(await b.events.read(conversationId, 0, 100))).toEqual(['new1', 'new2', 'new3', 'new4', 'new5', 'new6']);
    });

    it('ends a follower with EVENTS_EXPIRED when the read it makes for a gap finds another log', async () => {
      const prefix = `t-${randomUUID()}:`;
      const [a, b] = [await open(prefix), await open(prefix)];
      const conversationId = randomUUID();
      await appendDeltas(a, conversationId, 'old1', 'old2', 'old3');
      // A doorbell that rings only for 'ring', and says nothing of epochs: all the follower learns, it learns by reading.
      const quiet: EventLog = {
        append: (event) => b.events.append(event),
        appendBatch: (events) => b.events.appendBatch(events),
        read: (...args) => b.events.read(...args),
        lastSeq: (...args) => b.events.lastSeq(...args),
        listen: (id, listener) => b.events.listen(id, (event) => event.type === 'AgentToken' && event.delta === 'ring' && listener(event)),
      };
      const follower = followUntilFailure(quiet, conversationId, 0);
      await until(async () => (follower.events.length === 3 ? true : undefined), 'the old events');
      await until(async () => ((await subscribers(`${prefix}c:{${conversationId}}:bell`)) === 1 ? true : undefined), 'the subscription');

      await admin.flushAll();
      await appendDeltas(a, conversationId, 'new1', 'new2', 'new3', 'new4', 'ring');

      expect(await follower.failure).toMatchObject({ code: 'EVENTS_EXPIRED' });
      expect(deltas(follower.events)).toEqual(['old1', 'old2', 'old3']);
    });

    it('tells a follower whose subscription was down while its log was lost, once it is subscribed again', async () => {
      const prefix = `t-${randomUUID()}:`;
      const [a, b] = [await open(prefix), await open(prefix)];
      const conversationId = randomUUID();
      await appendDeltas(a, conversationId, 'old1', 'old2');
      const follower = followUntilFailure(b.events, conversationId, 0);
      await until(async () => (follower.events.length === 2 ? true : undefined), 'the old events');
      await until(async () => ((await subscribers(`${prefix}c:{${conversationId}}:bell`)) === 1 ? true : undefined), 'the subscription');
      // As when Redis restarts without its data: the subscriptions are gone while the log is lost and begun again.
      await whileSubscriptionsDown(async () => {
        await admin.flushAll();
        await appendDeltas(a, conversationId, 'new1', 'new2', 'new3');
      });
      expect(await follower.failure).toMatchObject({ code: 'EVENTS_EXPIRED' });
      expect(deltas(follower.events)).toEqual(['old1', 'old2']);
    });

    it('tells a follower whose log went back while its subscription was down, by the newest event told again', async () => {
      const { prefix, conversationId, follower } = await fiveEventsFollowed();
      await until(async () => ((await subscribers(`${prefix}c:{${conversationId}}:bell`)) === 1 ? true : undefined), 'the subscription');
      await whileSubscriptionsDown(async () => {
        await loseLastTwo(prefix, conversationId);
      });
      expect(await follower.failure).toMatchObject({ code: 'EVENTS_EXPIRED' });
      expect(deltas(follower.events)).toEqual(['one', 'two', 'three', 'four', 'five']);
    });

    it('numbers on past the seqs a log that went back had given out, under a new epoch that ends its followers', async () => {
      const { prefix, a, b, conversationId, follower } = await fiveEventsFollowed();
      // Failed over to with no reconnect of the followers.
      await loseLastTwo(prefix, conversationId);

      // a was given 5: its next append is 6, not 4 again.
      const [after] = await a.events.appendBatch([token(conversationId, 'after')]);
      expect(after!.seq).toBe(6);
      expect(await follower.failure).toMatchObject({ code: 'EVENTS_EXPIRED' });
      expect(deltas(follower.events)).toEqual(['one', 'two', 'three', 'four', 'five']);
      // A resume from a seq the log lost finds the hole; one from the seq before the append goes on.
      for (const afterSeq of [3, 4]) await expect(b.events.read(conversationId, afterSeq, 10)).rejects.toMatchObject({ code: 'EVENTS_EXPIRED' });
      expect(deltas(await b.events.read(conversationId, 5, 10))).toEqual(['after']);
      expect(await b.events.lastSeq(conversationId)).toBe(6);
    });

    it("numbers a run's AgentStarted, stored by its start, past the seqs a log that went back had given out", async () => {
      const prefix = `t-${randomUUID()}:`;
      const [a, b] = [await open(prefix), await open(prefix)];
      const conversationId = randomUUID();
      await a.sends.commit(helloSend(helloRun(conversationId)));
      await appendDeltas(a, conversationId, 'two', 'three', 'four', 'five');
      const follower = followUntilFailure(b.events, conversationId, 0);
      await until(async () => (follower.events.length === 5 ? true : undefined), 'the events');
      await loseLastTwo(prefix, conversationId);

      // a was given 5: the AgentStarted its start stores is 6, not 4 again, and its followers learn.
      const started = await a.startHead!(conversationId, 'instance-a', 60_000, new Date().toISOString(), 20);
      if (started.outcome !== 'started') throw new Error(`not started: ${JSON.stringify(started)}`);
      expect(started.started.opened!.agentStarted!.seq).toBe(6);
      expect(await follower.failure).toMatchObject({ code: 'EVENTS_EXPIRED' });
      expect(deltas(await b.events.read(conversationId, 5, 10))).toEqual(['AgentStarted']);
    });

    it("numbers a send's MessageCreated and an answer's AgentInputReceived past the seqs a log that went back had given out", async () => {
      const { prefix, a, conversationId, follower } = await fiveEventsFollowed();
      await loseLastTwo(prefix, conversationId);
      // a was given 5: the MessageCreated its send stores is 6, not 4 again.
      const sent = await a.sends.commit(helloSend(helloRun(conversationId)));
      if (sent.outcome !== 'stored') throw new Error(`not stored: ${sent.outcome}`);
      expect(sent.event.seq).toBe(6);
      expect(await follower.failure).toMatchObject({ code: 'EVENTS_EXPIRED' });

      // And again for an answer to a run that waits for a person: 6 and 7 are lost, a was given 7.
      const waiting = helloRun(conversationId, { status: 'WAITING', startedAt: new Date().toISOString() });
      await a.runs.create(waiting);
      const request = inputRequest(waiting);
      await a.inputs.open(request);
      await appendDeltas(a, conversationId, 'seven');
      await admin.sendCommand(['XDEL', `${prefix}c:{${conversationId}}:ev`, '6-0', '7-0']);
      await admin.set(`${prefix}c:{${conversationId}}:seq`, '5');
      const response = { approved: true, answer: null, comment: null, respondedBy: 'alice', respondedAt: new Date().toISOString() };
      const answered = await a.inputs.answer(request.id, response, { holder: 'answerer', ttlMs: 60_000 });
      if (answered.outcome !== 'answered') throw new Error(`not answered: ${answered.outcome}`);
      expect(answered.event.seq).toBe(8);
    });

    it('starts a conversation deleted and made again by its id from seq 1, whatever its old log had given', async () => {
      const prefix = `t-${randomUUID()}:`;
      const backend = await open(prefix);
      const conversationId = randomUUID();
      const run = helloRun(conversationId);
      await backend.sends.commit(helloSend(run));
      await appendDeltas(backend, conversationId, 'one', 'two', 'three');
      expect(await backend.deleteConversation(conversationId)).toBe(true);
      await backend.sends.commit(helloSend(helloRun(conversationId)));
      const [token1] = await backend.events.appendBatch([token(conversationId, 'again')]);
      expect(token1!.seq).toBe(2);
    });

    it('answers EVENTS_EXPIRED to a read after a seq past the end of the log, which only a lost log gives out', async () => {
      const prefix = `t-${randomUUID()}:`;
      const backend = await open(prefix);
      const conversationId = randomUUID();
      await appendDeltas(backend, conversationId, 'old1', 'old2', 'old3');
      await admin.flushAll();
      await appendDeltas(backend, conversationId, 'new1');
      expect(await backend.events.lastSeq(conversationId)).toBe(1);
      await expect(backend.events.read(conversationId, 3, 10)).rejects.toMatchObject({ code: 'EVENTS_EXPIRED' });
      await expect(backend.events.read(conversationId, 3, 0)).rejects.toMatchObject({ code: 'EVENTS_EXPIRED' });
      expect(deltas(await backend.events.read(conversationId, 1, 10))).toEqual([]);
    });

    it('keeps a live-only follower of a conversation without events going when its log begins', async () => {
      const prefix = `t-${randomUUID()}:`;
      const [a, b] = [await open(prefix), await open(prefix)];
      const conversationId = randomUUID();
      const follower = collect(b, conversationId, null, 2);
      await until(async () => ((await subscribers(`${prefix}c:{${conversationId}}:bell`)) === 1 ? true : undefined), 'the subscription');
      await appendDeltas(a, conversationId, 'first', 'second');
      expect(deltas(await follower.done)).toEqual(['first', 'second']);
    });
  });
});
