/**
 * The contract every backend holds, run against memory and against Redis through the Backend
 * interfaces only. Where it matters, each test acts through two instances (`a` and `b`) on the
 * same state, as two gateway processes would.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.ts';
import { LeaseLostError } from '../../src/store/event-log.ts';
import type { StoredEvent } from '../../src/domain/events.ts';
import type { Backend, ControlMessage, NewSend } from '../../src/store/interfaces.ts';
import type { ConversationRecord, InputRequestRecord, InputResponse, MessageRecord, Owner, RunRecord } from '../../src/domain/records.ts';
import {
  memoryWorld,
  postgresClusterWorld,
  postgresRedisWorld,
  redisClusterWorld,
  redisWorld,
  type Instances,
  type World,
  collect,
  token,
  until,
} from './worlds.ts';

const worlds: World[] = [memoryWorld, redisWorld(), redisClusterWorld(), postgresRedisWorld(), postgresClusterWorld()];

const alice: Owner = { userId: 'alice', tenantId: null };
const bob: Owner = { userId: 'bob', tenantId: null };

const iso = (ms: number) => new Date(Date.UTC(2030, 0, 1) + ms).toISOString();

function conversation(id: string, owner: Owner, at = 0): ConversationRecord {
  return { id, owner, title: null, createdAt: iso(at), updatedAt: iso(at) };
}

function message(conversationId: string, seq: number, text = `message ${seq}`): MessageRecord {
  return { id: randomUUID(), conversationId, role: 'USER', text, agentId: null, runId: null, seq, createdAt: iso(seq) };
}

function run(conversationId: string, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id: randomUUID(),
    conversationId,
    owner: alice,
    agentId: 'guide',
    status: 'QUEUED',
    userMessageId: randomUUID(),
    input: {
      text: 'hello',
      surface: 'HOME',
      projectId: null,
      context: { files: [], nested: { list: [1, 2.5, 'three'], empty: {}, big: 12345678901234567168, nothing: null } },
    },
    createdAt: iso(0),
    startedAt: null,
    finishedAt: null,
    error: null,
    cancelReason: null,
    ...overrides,
  };
}

describe.each(worlds)('the $name backend', (world) => {
  let instances: Instances;
  let a: Backend;
  let b: Backend;
  const extra: Instances[] = [];

  beforeAll(() => world.setup());
  afterAll(() => world.teardown());
  const fresh = async (retention?: Parameters<World['instances']>[0]) => {
    const made = await world.instances(retention);
    extra.push(made);
    return made;
  };
  beforeAll(async () => {
    instances = await world.instances();
    ({ a, b } = instances);
  });
  afterAll(() => instances.close());
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((made) => made.close()));
  });

  it('answers ping', async () => {
    await expect(a.ping()).resolves.toBeUndefined();
    expect(a.kind).toBe(world.name);
  });

  describe('conversations', () => {
    it('creates a conversation once, whoever asks second gets the stored one', async () => {
      const id = randomUUID();
      const first = await a.conversations.createIfAbsent(conversation(id, alice));
      expect(first).toEqual({ conversation: conversation(id, alice), created: true });
      const second = await b.conversations.createIfAbsent({ ...conversation(id, bob, 5), title: 'other' });
      expect(second).toEqual({ conversation: conversation(id, alice), created: false });
      expect(await b.conversations.get(id)).toEqual(conversation(id, alice));
      expect(await a.conversations.get(randomUUID())).toBeNull();
    });

    it('keeps a title given at creation', async () => {
      const id = randomUUID();
      const created = await a.conversations.createIfAbsent({ ...conversation(id, alice), title: 'Quarterly report' });
      expect(created.conversation.title).toBe('Quarterly report');
      expect((await b.conversations.get(id))?.title).toBe('Quarterly report');
    });

    it('lets exactly one of concurrent creators create', async () => {
      const id = randomUUID();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).conversations.createIfAbsent(conversation(id, i === 0 ? alice : bob))),
      );
      expect(results.filter((result) => result.created)).toHaveLength(1);
      const winner = results.find((result) => result.created)!.conversation;
      expect(results.every((result) => result.conversation.owner.userId === winner.owner.userId)).toBe(true);
    });

    it("lists an owner's conversations, most recently updated first", async () => {
      const user: Owner = { userId: randomUUID(), tenantId: null };
      const sameUserOtherTenant: Owner = { userId: user.userId, tenantId: 'acme' };
      const [c1, c2, c3] = [randomUUID(), randomUUID(), randomUUID()];
      await a.conversations.createIfAbsent(conversation(c1, user, 1));
      await b.conversations.createIfAbsent(conversation(c2, user, 2));
      await a.conversations.createIfAbsent(conversation(c3, user, 3));
      await a.conversations.createIfAbsent(conversation(randomUUID(), sameUserOtherTenant, 4));
      await a.conversations.createIfAbsent(conversation(randomUUID(), bob, 5));
      expect((await b.conversations.listForOwner(user, 10)).map((c) => c.id)).toEqual([c3, c2, c1]);
      await b.conversations.touch(c1, iso(10));
      expect((await a.conversations.listForOwner(user, 10)).map((c) => c.id)).toEqual([c1, c3, c2]);
      expect((await a.conversations.listForOwner(user, 2)).map((c) => c.id)).toEqual([c1, c3]);
      expect(await a.conversations.listForOwner(user, 0)).toEqual([]);
      expect(await a.conversations.listForOwner({ userId: randomUUID(), tenantId: null }, 10)).toEqual([]);
      expect(await a.conversations.listForOwner(sameUserOtherTenant, 10)).toHaveLength(1);
    });

    it('touch moves updatedAt forward only and sets the title once', async () => {
      const id = randomUUID();
      await a.conversations.createIfAbsent(conversation(id, alice, 5));
      await b.conversations.touch(id, iso(3), 'First title');
      expect(await a.conversations.get(id)).toMatchObject({ updatedAt: iso(5), title: 'First title' });
      await b.conversations.touch(id, iso(9), 'Second title');
      expect(await a.conversations.get(id)).toMatchObject({ updatedAt: iso(9), title: 'First title', createdAt: iso(5) });
      await b.conversations.touch(randomUUID(), iso(9), 'nobody');
    });
  });

  describe('messages', () => {
    it('stores messages and lists the last ones oldest first', async () => {
      const conversationId = randomUUID();
      const stored = [1, 2, 3, 4].map((seq) => message(conversationId, seq));
      for (const [i, each] of stored.entries()) await (i % 2 ? a : b).messages.add(each);
      await a.messages.add(message(randomUUID(), 1));
      expect(await b.messages.listLast(conversationId, 10)).toEqual(stored);
      expect(await b.messages.listLast(conversationId, 2)).toEqual(stored.slice(2));
      expect(await b.messages.listLast(conversationId, 0)).toEqual([]);
      expect(await a.messages.get(stored[1]!.id)).toEqual(stored[1]);
      expect(await a.messages.get(randomUUID())).toBeNull();
      // A run's history: up to its own message (or the newest, when that is gone).
      expect(await b.messages.listLastThrough(conversationId, 2, stored[2]!.id)).toEqual(stored.slice(1, 3));
      expect(await b.messages.listLastThrough(conversationId, 2, randomUUID())).toEqual(stored.slice(2));
      expect(await b.messages.listLastThrough(conversationId, 0, stored[2]!.id)).toEqual([]);
    });

    it('orders by seq even when added out of order', async () => {
      const conversationId = randomUUID();
      const [m1, m2, m3] = [1, 2, 3].map((seq) => message(conversationId, seq));
      await a.messages.add(m1!);
      await b.messages.add(m3!);
      await a.messages.add(m2!);
      expect((await b.messages.listLast(conversationId, 3)).map((m) => m.seq)).toEqual([1, 2, 3]);
    });

    it('lists the last ones up to a seq, leaving out those after it', async () => {
      const conversationId = randomUUID();
      for (const seq of [1, 2, 3, 4, 5]) await a.messages.add(message(conversationId, seq));
      expect((await b.messages.listLast(conversationId, 2, 4)).map((m) => m.seq)).toEqual([3, 4]);
      expect((await b.messages.listLast(conversationId, 10, 2)).map((m) => m.seq)).toEqual([1, 2]);
      expect(await b.messages.listLast(conversationId, 10, 0)).toEqual([]);
    });
  });

  describe('runs', () => {
    it('stores runs and lists the last ones oldest first, intact', async () => {
      const conversationId = randomUUID();
      const runs = [run(conversationId), run(conversationId), run(conversationId)];
      for (const each of runs) await a.runs.create(each);
      expect(await b.runs.get(runs[0]!.id)).toEqual(runs[0]);
      expect(await b.runs.listLast(conversationId, 2)).toEqual(runs.slice(1));
      expect(await b.runs.listLast(conversationId, 0)).toEqual([]);
      expect(await b.runs.get(randomUUID())).toBeNull();
    });

    it('transitions only from the given statuses, keeping every other field', async () => {
      const created = run(randomUUID());
      await a.runs.create(created);
      const started = await b.runs.transition(created.id, ['QUEUED'], { status: 'RUNNING', startedAt: iso(1) });
      expect(started).toEqual({ ...created, status: 'RUNNING', startedAt: iso(1) });
      expect(await a.runs.transition(created.id, ['QUEUED'], { status: 'RUNNING' })).toBeNull();
      const error = { code: 'TIMEOUT', message: 'too slow', retryable: true };
      const failed = await a.runs.transition(created.id, ['QUEUED', 'RUNNING'], { status: 'FAILED', error, finishedAt: iso(2) });
      expect(failed).toEqual({ ...created, status: 'FAILED', startedAt: iso(1), error, finishedAt: iso(2) });
      expect(await b.runs.get(created.id)).toEqual(failed);
      expect(await b.runs.transition(randomUUID(), ['QUEUED'], { status: 'RUNNING' })).toBeNull();
    });

    it('lets exactly one of concurrent transitions win', async () => {
      const created = run(randomUUID(), { status: 'RUNNING' });
      await a.runs.create(created);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).runs.transition(created.id, ['RUNNING'], { status: 'CANCELLED', cancelReason: `by ${i}` })),
      );
      const winners = results.filter((result) => result !== null);
      expect(winners).toHaveLength(1);
      expect(await a.runs.get(created.id)).toEqual(winners[0]);
    });

    it('queues run ids per conversation, in order', async () => {
      const [c1, c2] = [randomUUID(), randomUUID()];
      await a.runQueue.push(c1, 'r1');
      await b.runQueue.push(c1, 'r2');
      await a.runQueue.push(c2, 'x1');
      await b.runQueue.push(c1, 'r3');
      expect(await a.runQueue.list(c1)).toEqual(['r1', 'r2', 'r3']);
      // Each removal answers whether runs are left in the queue.
      expect(await b.runQueue.remove(c1, 'r2')).toBe(true);
      expect(await b.runQueue.remove(c1, 'unknown')).toBe(true);
      expect(await a.runQueue.list(c1)).toEqual(['r1', 'r3']);
      expect(await a.runQueue.list(c2)).toEqual(['x1']);
      expect(await a.runQueue.remove(c2, 'x1')).toBe(false);
      expect(await b.runQueue.list(c2)).toEqual([]);
      expect(await a.runQueue.remove(c2, 'x1')).toBe(false);
    });

    it("reads the queue's first run with its record", async () => {
      const conversationId = randomUUID();
      expect(await a.runQueue.head(conversationId)).toBeNull();
      const first = run(conversationId);
      await a.runs.create(first);
      await b.runQueue.push(conversationId, first.id);
      await b.runQueue.push(conversationId, 'queued-behind');
      expect(await a.runQueue.head(conversationId)).toEqual({ runId: first.id, run: first });
      // An id whose run is gone: the scheduler drops it from the queue.
      const orphan = randomUUID();
      await b.runQueue.push(orphan, 'vanished');
      expect(await a.runQueue.head(orphan)).toEqual({ runId: 'vanished', run: null });
    });
  });

  describe('run leases', () => {
    /** A run in the store, to lease: a lease is always of a stored run (a store of record may fence it). */
    const storedRun = async (conversationId: string = randomUUID()) => {
      const stored = run(conversationId);
      await a.runs.create(stored);
      return { runId: stored.id, conversationId };
    };

    it('hands an expired lease to exactly one claimant, who then holds it', async () => {
      const { runId, conversationId } = await storedRun();
      await a.leases.acquire(runId, conversationId, 'holder-a', 0);
      const claims = await Promise.all([a.leases.claimExpired('sweeper-a', 60_000, 100), b.leases.claimExpired('sweeper-b', 60_000, 100)]);
      const mine = claims.flat().filter((lease) => lease.runId === runId);
      expect(mine).toEqual([{ runId, conversationId, epoch: expect.any(Number) }]);
      const winner = claims[0]!.some((lease) => lease.runId === runId) ? 'sweeper-a' : 'sweeper-b';
      expect(await a.leases.renew(runId, 'holder-a', 60_000)).toBe(false);
      expect(await b.leases.renew(runId, winner, 60_000)).toBe(true);
      // Held again until 60 s from the claim: nobody else can claim it now.
      expect((await a.leases.claimExpired('sweeper-c', 60_000, 100)).some((lease) => lease.runId === runId)).toBe(false);
    });

    it('keeps a live lease from claimants and lets its holder renew and release it', async () => {
      const { runId } = await storedRun('conversation');
      await a.leases.acquire(runId, 'conversation', 'holder-a', 60_000);
      expect((await b.leases.claimExpired('sweeper', 60_000, 100)).some((lease) => lease.runId === runId)).toBe(false);
      expect(await b.leases.renew(runId, 'holder-a', 60_000)).toBe(true);
      expect(await b.leases.renew(runId, 'someone-else', 60_000)).toBe(false);
      await b.leases.release(runId, 'someone-else');
      expect(await a.leases.renew(runId, 'holder-a', 60_000)).toBe(true);
      await b.leases.release(runId, 'holder-a');
      expect(await a.leases.renew(runId, 'holder-a', 60_000)).toBe(false);
    });

    it('gives a lease a greater epoch whenever it changes hands, a release and a claim too', async () => {
      const { runId } = await storedRun('conversation');
      const first = await a.leases.acquire(runId, 'conversation', 'holder-a', 0);
      expect(await b.leases.acquire(runId, 'conversation', 'holder-a', 0)).toBe(first);
      const second = await b.leases.acquire(runId, 'conversation', 'holder-b', 0);
      expect(second).toBeGreaterThan(first);
      const released = await a.leases.release(runId, null);
      expect(released).toBeGreaterThan(second);
      expect(await a.leases.release(runId, null)).toBe(0);
      const third = await a.leases.acquire(runId, 'conversation', 'holder-b', 0);
      expect(third).toBeGreaterThan(released);
      const claimed = (await b.leases.claimExpired('sweeper', 60_000, 100)).find((lease) => lease.runId === runId);
      expect(claimed?.epoch).toBeGreaterThan(third);
    });

    it('lets anyone release a lease when no holder is named, and a new holder take it over', async () => {
      const { runId } = await storedRun('conversation');
      await a.leases.acquire(runId, 'conversation', 'holder-a', 60_000);
      await b.leases.acquire(runId, 'conversation', 'holder-b', 60_000);
      expect(await a.leases.renew(runId, 'holder-a', 60_000)).toBe(false);
      expect(await a.leases.renew(runId, 'holder-b', 60_000)).toBe(true);
      await a.leases.release(runId, null);
      expect(await b.leases.renew(runId, 'holder-b', 60_000)).toBe(false);
      await b.leases.acquire(runId, 'conversation', 'holder-b', 0);
      expect(await a.leases.claimExpired('sweeper', 60_000, 0)).toEqual([]);
    });

    it('adopts only runs without a lease, held as asked, an expired one for a sweep to claim', async () => {
      const [leased, orphan, held] = [await storedRun(), await storedRun(), await storedRun()];
      await a.leases.acquire(leased.runId, leased.conversationId, 'holder-a', 60_000);
      await b.leases.adopt([leased, orphan], 'nobody', 0);
      await b.leases.adopt([held], 'holder-b', 60_000);
      expect(await a.leases.renew(leased.runId, 'holder-a', 60_000)).toBe(true);
      expect(await a.leases.renew(held.runId, 'holder-b', 60_000)).toBe(true);
      const claimed = await a.leases.claimExpired('sweeper', 60_000, 100);
      expect(claimed.filter((lease) => [leased, orphan, held].some((run) => run.runId === lease.runId))).toEqual([{ ...orphan, epoch: expect.any(Number) }]);
    });
  });

  describe('sends', () => {
    /** What a send through the Experience plane hands the store. */
    const newSend = (conversationId: string, overrides: Partial<NewSend> = {}): NewSend => {
      const stored = run(conversationId);
      return {
        idempotencyKey: `send:${randomUUID()}`,
        conversation: conversation(conversationId, alice, 1),
        title: 'Hello',
        message: { ...message(conversationId, 0, 'Hello'), id: stored.userMessageId, runId: stored.id, createdAt: iso(2) },
        run: stored,
        lease: { holder: 'gateway-a', ttlMs: 60_000 },
        maxActiveRuns: 20,
        ...overrides,
      };
    };

    /** Everything a conversation holds, to show that a refused send stored nothing. */
    const contents = async (on: Backend, conversationId: string) => ({
      conversation: await on.conversations.get(conversationId),
      lastSeq: await on.events.lastSeq(conversationId),
      messages: await on.messages.listLast(conversationId, 100),
      runs: await on.runs.listLast(conversationId, 100),
      queue: await on.runQueue.list(conversationId),
    });

    it('stores the conversation, the message and its MessageCreated, the run, its queue place and its lease at once', async () => {
      const conversationId = randomUUID();
      const send = newSend(conversationId);
      const outcome = await a.sends.commit(send);
      if (outcome.outcome !== 'stored') throw new Error(`not stored: ${outcome.outcome}`);
      const stored = { ...send.message, seq: 1 };
      expect(outcome.message).toEqual(stored);
      expect(outcome.event).toMatchObject({ type: 'MessageCreated', seq: 1, conversationId, runId: send.run.id, agentId: null, message: stored });
      expect(outcome.conversation).toEqual({ ...send.conversation, title: 'Hello', updatedAt: iso(2) });
      expect(await b.events.read(conversationId, 0, 10)).toEqual([outcome.event]);
      expect(await contents(b, conversationId)).toEqual({
        conversation: outcome.conversation,
        lastSeq: 1,
        messages: [stored],
        runs: [send.run],
        queue: [send.run.id],
      });
      expect(await b.messages.get(send.message.id)).toEqual(stored);
      expect(await b.leases.renew(send.run.id, 'gateway-a', 60_000)).toBe(true);
      expect((await b.conversations.listForOwner(alice, 100)).map((each) => each.id)).toContain(conversationId);
    });

    it('adds to an existing conversation of the same owner, after its events', async () => {
      const conversationId = randomUUID();
      await a.conversations.createIfAbsent({ ...conversation(conversationId, alice), title: 'Kept' });
      await a.events.append(token(conversationId, 'earlier'));
      const outcome = await b.sends.commit(newSend(conversationId));
      expect(outcome).toMatchObject({ outcome: 'stored', event: { seq: 2 }, message: { seq: 2 }, conversation: { title: 'Kept' } });
    });

    it('answers a repeated key with what the first send stored, and stores nothing more', async () => {
      const conversationId = randomUUID();
      const first = newSend(conversationId);
      await a.sends.commit(first);
      const again = newSend(conversationId, { idempotencyKey: first.idempotencyKey });
      expect(await b.sends.commit(again)).toEqual({
        outcome: 'repeated',
        stored: { conversationId, messageId: first.message.id, runId: first.run.id },
      });
      const elsewhere = newSend(randomUUID(), { idempotencyKey: first.idempotencyKey });
      expect(await b.sends.commit(elsewhere)).toMatchObject({ outcome: 'repeated', stored: { conversationId } });
      expect(await contents(a, conversationId)).toMatchObject({ lastSeq: 1, queue: [first.run.id] });
      expect(await a.conversations.get(elsewhere.conversation.id)).toBeNull();
      // Without a key, every send is a new one.
      const unkeyed = () => newSend(conversationId, { idempotencyKey: null });
      expect((await a.sends.commit(unkeyed())).outcome).toBe('stored');
      expect((await b.sends.commit(unkeyed())).outcome).toBe('stored');
      expect(await a.events.lastSeq(conversationId)).toBe(3);
    });

    it('stores exactly one of concurrent sends with one key, through any instance', async () => {
      const conversationId = randomUUID();
      const key = `send:${randomUUID()}`;
      const sends = Array.from({ length: 8 }, () => newSend(conversationId, { idempotencyKey: key }));
      const outcomes = await Promise.all(sends.map((send, i) => (i % 2 ? a : b).sends.commit(send)));
      const winners = outcomes.map((outcome, i) => (outcome.outcome === 'stored' ? i : -1)).filter((i) => i >= 0);
      expect(winners).toHaveLength(1);
      const winner = sends[winners[0]!]!;
      for (const outcome of outcomes) {
        if (outcome.outcome !== 'stored') {
          expect(outcome).toEqual({ outcome: 'repeated', stored: { conversationId, messageId: winner.message.id, runId: winner.run.id } });
        }
      }
      expect(await contents(a, conversationId)).toMatchObject({ lastSeq: 1, runs: [winner.run], queue: [winner.run.id] });
    });

    it('counts a send against its rate window first; past the limit it stores nothing and says how long to wait', async () => {
      const conversationId = randomUUID();
      const rate = { key: `send:${randomUUID()}`, limit: 2, windowMs: 60_000 };
      expect((await a.sends.commit(newSend(conversationId, { rate }))).outcome).toBe('stored');
      expect((await b.sends.commit(newSend(conversationId, { rate }))).outcome).toBe('stored');
      const before = await contents(a, conversationId);
      const refused = newSend(conversationId, { rate });
      const outcome = await a.sends.commit(refused);
      if (outcome.outcome !== 'rate-limited') throw new Error(`not refused: ${outcome.outcome}`);
      expect(outcome.retryAfterMs).toBeGreaterThan(0);
      expect(outcome.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(await contents(b, conversationId)).toEqual(before);
      // Nor is its key remembered; and the window is the rate limiter's, with the three sends in it.
      expect((await b.sends.commit({ ...refused, rate: undefined })).outcome).toBe('stored');
      expect((await b.rateLimiter.hit(rate.key, 4, 60_000)).allowed).toBe(true);
      expect((await a.rateLimiter.hit(rate.key, 4, 60_000)).allowed).toBe(false);
    });

    it("stores nothing in someone else's conversation", async () => {
      const conversationId = randomUUID();
      await a.sends.commit(newSend(conversationId));
      const before = await contents(a, conversationId);
      const intruder = newSend(conversationId);
      intruder.conversation = conversation(conversationId, bob);
      expect(await b.sends.commit(intruder)).toEqual({ outcome: 'not-owner' });
      expect(await contents(a, conversationId)).toEqual(before);
      // Nor is the key remembered: it stored nothing to remember.
      expect((await a.sends.commit(newSend(randomUUID(), { idempotencyKey: intruder.idempotencyKey }))).outcome).toBe('stored');
    });

    it('stores nothing while the conversation has maxActiveRuns active runs, and counts only active ones', async () => {
      const conversationId = randomUUID();
      const sends = [newSend(conversationId), newSend(conversationId)];
      for (const send of sends) await a.sends.commit(send);
      const before = await contents(a, conversationId);
      const refused = newSend(conversationId, { maxActiveRuns: 2 });
      expect(await b.sends.commit(refused)).toEqual({ outcome: 'busy', activeRunIds: sends.map((send) => send.run.id) });
      expect(await contents(a, conversationId)).toEqual(before);
      await a.runs.transition(sends[0]!.run.id, ['QUEUED'], { status: 'RUNNING' });
      expect(await b.sends.commit(refused)).toMatchObject({ outcome: 'busy', activeRunIds: sends.map((send) => send.run.id) });
      await a.runs.transition(sends[0]!.run.id, ['RUNNING'], { status: 'CANCELLED' });
      expect(await b.sends.commit(refused)).toMatchObject({ outcome: 'stored', event: { seq: 3 } });
      // A refused send left no key behind: the key was free for the send that then got in.
      expect(await a.sends.commit(newSend(conversationId, { idempotencyKey: refused.idempotencyKey }))).toMatchObject({ outcome: 'repeated' });
    });

    it('deletes a conversation and everything of it, through any instance, and nothing of another', async () => {
      const doomed = randomUUID();
      const kept = randomUUID();
      const first = newSend(doomed);
      await a.sends.commit(first);
      await a.sends.commit(newSend(doomed));
      await a.events.append(token(doomed, 'Hi', first.run.id));
      await a.sends.commit(newSend(kept));
      const keptBefore = await contents(a, kept);

      expect(await b.deleteConversation(doomed)).toBe(true);
      expect(await contents(a, doomed)).toEqual({ conversation: null, lastSeq: 0, messages: [], runs: [], queue: [] });
      expect(await a.events.read(doomed, 0, 10)).toEqual([]);
      expect(await a.runs.get(first.run.id)).toBeNull();
      expect(await a.messages.get(first.message.id)).toBeNull();
      expect((await a.conversations.listForOwner(alice, 100)).map((each) => each.id)).not.toContain(doomed);
      // Its runs' leases are gone: their executors' next renewal fails.
      expect(await a.leases.renew(first.run.id, 'gateway-a', 60_000)).toBe(false);
      // Its idempotency keys are forgotten: the same key now starts anew.
      expect((await a.sends.commit(newSend(randomUUID(), { idempotencyKey: first.idempotencyKey }))).outcome).toBe('stored');
      expect(await contents(a, kept)).toEqual(keptBefore);
      expect(await a.deleteConversation(doomed)).toBe(false);
    });
  });

  describe('input requests', () => {
    const request = (target: RunRecord, overrides: Partial<InputRequestRecord> = {}): InputRequestRecord => ({
      id: randomUUID(),
      runId: target.id,
      conversationId: target.conversationId,
      agentId: 'guide',
      kind: 'APPROVAL',
      status: 'PENDING',
      prompt: 'Run files.ingest?',
      toolCallId: `${target.id}:call-1`,
      toolName: 'files.ingest',
      arguments: { name: 'report.csv', nested: { empty: {}, list: [] } },
      options: null,
      answerSchema: null,
      createdAt: new Date().toISOString(),
      expiresAt: null,
      response: null,
      ...overrides,
    });
    const response = (approved: boolean, respondedBy = 'alice'): InputResponse => ({
      approved,
      answer: null,
      comment: approved ? null : 'not now',
      respondedBy,
      respondedAt: new Date().toISOString(),
    });
    const lease = { holder: 'answerer', ttlMs: 60_000 };
    /** A run of a fresh conversation that paused on a person. */
    const waitingRun = async (status: RunRecord['status'] = 'WAITING') => {
      const paused = run(randomUUID(), { status, startedAt: iso(1) });
      await a.runs.create(paused);
      await a.runQueue.push(paused.conversationId, paused.id);
      return paused;
    };

    it('opens a request once, keeps it intact, and lists the PENDING ones oldest first', async () => {
      const paused = await waitingRun();
      const first = request(paused, { createdAt: iso(1) });
      const second = request(paused, { kind: 'QUESTION', toolCallId: null, toolName: null, arguments: null, options: ['yes', 'no'], createdAt: iso(2) });
      expect(await a.inputs.open(first)).toEqual(first);
      expect(await b.inputs.open({ ...first, prompt: 'changed' })).toEqual(first);
      await b.inputs.open(second);
      expect(await b.inputs.get(first.id)).toEqual(first);
      expect(await a.inputs.pending(paused.conversationId)).toEqual([first, second]);
      expect(await a.inputs.get(randomUUID())).toBeNull();
    });

    it('answers once, appends its AgentInputReceived and resumes the run on its last open request', async () => {
      const paused = await waitingRun();
      const first = await a.inputs.open(request(paused));
      const second = await a.inputs.open(request(paused, { toolCallId: `${paused.id}:call-2` }));
      const one = await a.inputs.answer(first.id, response(true), lease);
      expect(one).toMatchObject({ outcome: 'answered', resumed: false, request: { status: 'ANSWERED', response: { approved: true } } });
      expect((await a.runs.get(paused.id))!.status).toBe('WAITING');
      const two = await b.inputs.answer(second.id, response(false), lease);
      expect(two).toMatchObject({ outcome: 'answered', resumed: true, event: { type: 'AgentInputReceived', requestId: second.id, seq: 2, runId: paused.id } });
      expect((await b.runs.get(paused.id))!.status).toBe('QUEUED');
      // Resumed under the answerer's lease, so that a survivor starts it should nobody else.
      expect(await a.leases.renew(paused.id, lease.holder, 60_000)).toBe(true);
      const events = await a.events.read(paused.conversationId, 0, 10);
      expect(events.map((event) => event.type)).toEqual(['AgentInputReceived', 'AgentInputReceived']);
      expect(await a.inputs.pending(paused.conversationId)).toEqual([]);
      expect(await b.inputs.answer(second.id, response(true), lease)).toMatchObject({
        outcome: 'settled',
        request: { status: 'ANSWERED', response: { approved: false } },
      });
      expect(await b.inputs.answer(randomUUID(), response(true), lease)).toEqual({ outcome: 'not-found' });
    });

    it('lets exactly one of concurrent answers win, across instances', async () => {
      const paused = await waitingRun();
      const opened = await a.inputs.open(request(paused));
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).inputs.answer(opened.id, response(i % 3 === 0, `user-${i}`), lease)),
      );
      expect(outcomes.filter((outcome) => outcome.outcome === 'answered')).toHaveLength(1);
      expect(await a.events.lastSeq(paused.conversationId)).toBe(1);
    });

    it('takes an answer while the run is about to pause, and leaves its resumption to the pause', async () => {
      const running = await waitingRun('RUNNING');
      const opened = await a.inputs.open(request(running));
      expect(await b.inputs.answer(opened.id, response(true), lease)).toMatchObject({ outcome: 'answered', resumed: false });
      expect((await a.runs.get(running.id))!.status).toBe('RUNNING');
      expect(await a.inputs.resumeIfAnswered(running.id, lease)).toBeNull();
      await a.runs.transition(running.id, ['RUNNING'], { status: 'WAITING' });
      expect(await a.inputs.resumeIfAnswered(running.id, lease)).toMatchObject({ status: 'QUEUED', id: running.id });
      expect(await b.inputs.resumeIfAnswered(running.id, lease)).toBeNull();
    });

    it('refuses answers once the run no longer waits, and stores nothing', async () => {
      const paused = await waitingRun();
      const opened = await a.inputs.open(request(paused));
      await a.runs.transition(paused.id, ['WAITING'], { status: 'CANCELLED' });
      expect(await b.inputs.answer(opened.id, response(true), lease)).toMatchObject({ outcome: 'settled', request: { status: 'PENDING' } });
      expect(await a.events.lastSeq(paused.conversationId)).toBe(0);
    });

    it("closes a run's PENDING requests (or one of them) and nothing of other runs", async () => {
      const paused = await waitingRun();
      const other = run(paused.conversationId, { status: 'WAITING' });
      await a.runs.create(other);
      const [one, two] = [await a.inputs.open(request(paused)), await a.inputs.open(request(paused))];
      const theirs = await a.inputs.open(request(other));
      expect((await b.inputs.close(paused.id, paused.conversationId, 'EXPIRED', one.id)).map((r) => [r.id, r.status])).toEqual([[one.id, 'EXPIRED']]);
      expect((await b.inputs.close(paused.id, paused.conversationId, 'CANCELLED')).map((r) => [r.id, r.status])).toEqual([[two.id, 'CANCELLED']]);
      expect(await a.inputs.close(paused.id, paused.conversationId, 'CANCELLED')).toEqual([]);
      expect((await a.inputs.pending(paused.conversationId)).map((r) => r.id)).toEqual([theirs.id]);
      expect(await a.inputs.answer(one.id, response(true), lease)).toMatchObject({ outcome: 'settled', request: { status: 'EXPIRED' } });
    });

    it('hands a due request to one claimant at a time, and again once its claim ran out', async () => {
      const paused = await waitingRun();
      const due = await a.inputs.open(request(paused, { expiresAt: new Date(Date.now() - 1).toISOString() }));
      await a.inputs.open(request(paused, { expiresAt: new Date(Date.now() + 60_000).toISOString() }));
      const claims = await Promise.all([a.inputs.claimDue(50, 10), b.inputs.claimDue(50, 10)]);
      expect(
        claims
          .flat()
          .map((r) => r.id)
          .filter((id) => id === due.id),
      ).toHaveLength(1);
      const again = await until(async () => ((await b.inputs.claimDue(50, 10)).some((r) => r.id === due.id) ? true : undefined), 'the claim to run out');
      expect(again).toBe(true);
      await a.inputs.close(paused.id, paused.conversationId, 'EXPIRED', due.id);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect((await a.inputs.claimDue(50, 10)).map((r) => r.id)).not.toContain(due.id);
    });
  });

  describe('locks', () => {
    it('never lets two holders of one key overlap, across instances', async () => {
      const key = `lock-${randomUUID()}`;
      let inside = 0;
      let most = 0;
      const order: number[] = [];
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? a : b).locks.withLock(key, async () => {
            inside += 1;
            most = Math.max(most, inside);
            await new Promise((resolve) => setImmediate(resolve));
            order.push(i);
            inside -= 1;
            return i;
          }),
        ),
      );
      expect(most).toBe(1);
      expect(order.sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    });

    it('passes results and errors through and frees the lock either way', async () => {
      const key = `lock-${randomUUID()}`;
      await expect(a.locks.withLock(key, async () => 42)).resolves.toBe(42);
      await expect(a.locks.withLock(key, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      await expect(b.locks.withLock(key, async () => 'free')).resolves.toBe('free');
    });

    it('does not hold different keys against each other', async () => {
      const [k1, k2] = [`lock-${randomUUID()}`, `lock-${randomUUID()}`];
      const result = await a.locks.withLock(k1, () => b.locks.withLock(k2, async () => 'nested'));
      expect(result).toBe('nested');
    });
  });

  describe('rate limiter', () => {
    it('allows `limit` hits per window across instances, then says how long to wait', async () => {
      const key = `rate-${randomUUID()}`;
      const verdicts = [];
      for (let i = 0; i < 5; i += 1) verdicts.push(await (i % 2 ? a : b).rateLimiter.hit(key, 3, 60_000));
      expect(verdicts.map((verdict) => verdict.allowed)).toEqual([true, true, true, false, false]);
      expect(verdicts[0]!.retryAfterMs).toBe(0);
      expect(verdicts[4]!.retryAfterMs).toBeGreaterThan(0);
      expect(verdicts[4]!.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect((await a.rateLimiter.hit(`rate-${randomUUID()}`, 3, 60_000)).allowed).toBe(true);
    });
  });

  describe('control channel', () => {
    it('delivers a message published through one instance to subscribers on the other', async () => {
      const runId = randomUUID();
      const received: ControlMessage[] = [];
      const unsubscribe = b.control.subscribe((message) => received.push(message));
      try {
        // Subscribing takes effect asynchronously on Redis: publish until it is heard.
        await until(async () => {
          await a.control.publish({ type: 'cancel-run', runId });
          return received.some((message) => message.type === 'cancel-run' && message.runId === runId) ? true : undefined;
        }, 'the control message');
        expect(received.find((message) => message.type === 'cancel-run' && message.runId === runId)).toEqual({ type: 'cancel-run', runId });
      } finally {
        unsubscribe();
      }
    });
  });

  describe('event log', () => {
    it('numbers events 1, 2, 3… per conversation and stamps them', async () => {
      const [c1, c2] = [randomUUID(), randomUUID()];
      const first = await a.events.append(token(c1, 'a'));
      const second = await b.events.append(token(c1, 'b'));
      const other = await a.events.append(token(c2, 'x'));
      expect(first).toMatchObject({ seq: 1, id: `${c1}:1`, conversationId: c1, runId: 'run-1', agentId: 'guide', delta: 'a' });
      expect(second).toMatchObject({ seq: 2, id: `${c1}:2` });
      expect(other.seq).toBe(1);
      expect(new Date(first.timestamp).toISOString()).toBe(first.timestamp);
      expect(await b.events.lastSeq(c1)).toBe(2);
      expect(await b.events.lastSeq(randomUUID())).toBe(0);
    });

    it("appends a fenced event only while the run's lease is at the epoch named, and nothing otherwise", async () => {
      const conversationId = randomUUID();
      const runId = run(conversationId).id;
      await a.runs.create({ ...run(conversationId), id: runId });
      const held = await a.leases.acquire(runId, conversationId, 'executor', 0);
      expect(await b.events.append(token(conversationId, 'mine', runId), held)).toMatchObject({ seq: 1 });
      // The lease ran out and a survivor took it over: the executor's next append is refused.
      const claimed = await b.leases.claimExpired('survivor', 60_000, 100);
      expect(claimed.map((lease) => lease.runId)).toContain(runId);
      const refused = await a.events.append(token(conversationId, 'late', runId), held).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(LeaseLostError);
      expect(refused).toMatchObject({ runId });
      expect(await b.events.lastSeq(conversationId)).toBe(1);
      // The survivor's own appends (unfenced, on the run's behalf) go in; so do its fenced ones.
      await b.events.append(token(conversationId, 'ended', runId));
      const survivorEpoch = await b.leases.acquire(runId, conversationId, 'survivor', 60_000);
      expect(survivorEpoch).not.toBe(held);
      expect(await b.events.append(token(conversationId, 'again', runId), survivorEpoch)).toMatchObject({ seq: 3 });
      // Once released, nobody's epoch holds the run.
      await b.leases.release(runId, 'survivor');
      await expect(a.events.append(token(conversationId, 'gone', runId), survivorEpoch)).rejects.toBeInstanceOf(LeaseLostError);
      expect((await a.events.read(conversationId, 0, 10)).map((event) => event.type === 'AgentToken' && event.delta)).toEqual(['mine', 'ended', 'again']);
    });

    it('leaves whoever holds a lease after racing changes of hands able to append, and nobody else', async () => {
      // A holder lets go while another instance takes the run, or a sweep claims an expired
      // lease while another instance starts the run: where the fence is kept apart from the
      // lease (a store of record), each change of hands is recorded there after the lease moved,
      // and the record of an earlier one must not land over a later one's.
      const conversationId = randomUUID();
      for (let round = 0; round < 20; round += 1) {
        const runId = randomUUID();
        await a.runs.create({ ...run(conversationId), id: runId });
        const first = await a.leases.acquire(runId, conversationId, 'executor', round % 2 === 0 ? 60_000 : 0);
        const [claims, taken] = await Promise.all([
          round % 2 === 0 ? a.leases.release(runId, 'executor').then(() => []) : a.leases.claimExpired('sweeper', 60_000, 100),
          b.leases.acquire(runId, conversationId, 'starter', 60_000),
        ]);
        const claim = claims.find((lease) => lease.runId === runId);
        const holder = (await b.leases.renew(runId, 'starter', 60_000)) ? { epoch: taken, name: 'starter' } : { epoch: claim?.epoch, name: 'sweeper' };
        expect(holder.epoch, `round ${round}: ${holder.name} holds the lease`).toEqual(expect.any(Number));
        expect(await a.events.append(token(conversationId, `by ${holder.name}`, runId), holder.epoch)).toMatchObject({ runId });
        for (const stale of [first, holder.name === 'starter' ? claim?.epoch : taken].filter((epoch) => epoch !== undefined))
          await expect(b.events.append(token(conversationId, 'stale', runId), stale)).rejects.toBeInstanceOf(LeaseLostError);
        await a.leases.release(runId, null);
      }
    });

    it('numbers the message a MessageCreated or AgentCompleted carries with the event', async () => {
      const conversationId = randomUUID();
      await a.events.append(token(conversationId, 'x'));
      const created = await b.events.append({
        type: 'MessageCreated',
        conversationId,
        runId: 'r',
        agentId: null,
        message: message(conversationId, 0, 'hi'),
      });
      expect(created.seq).toBe(2);
      expect(created.type === 'MessageCreated' && created.message.seq).toBe(2);
      const [read] = await a.events.read(conversationId, 1, 10);
      expect(read).toEqual(created);
    });

    it('stores the reply an AgentCompleted carries with the event, numbered with it, readable once the append resolves', async () => {
      const conversationId = randomUUID();
      const runId = randomUUID();
      await a.runs.create({ ...run(conversationId), id: runId });
      const held = await a.leases.acquire(runId, conversationId, 'executor', 60_000);
      const reply: MessageRecord = { ...message(conversationId, 0, 'the answer'), role: 'AGENT', agentId: 'guide', runId };
      await a.events.append(token(conversationId, 'x', runId), held);
      // In a batch, after a token: the reply takes the seq of its own event.
      const [, completed] = await a.events.appendBatch(
        [token(conversationId, 'y', runId), { type: 'AgentCompleted', conversationId, runId, agentId: 'guide', message: reply, usage: null }],
        held,
      );
      expect(completed!.seq).toBe(3);
      const numbered = { ...reply, seq: 3 };
      expect(await b.messages.get(reply.id)).toEqual(numbered);
      expect(await b.messages.listLast(conversationId, 10)).toEqual([numbered]);
      expect(await b.messages.listLastThrough(conversationId, 10, reply.id)).toEqual([numbered]);
    });

    it('stores no reply with an AgentCompleted its fence refuses', async () => {
      const conversationId = randomUUID();
      const runId = randomUUID();
      await a.runs.create({ ...run(conversationId), id: runId });
      const held = await a.leases.acquire(runId, conversationId, 'executor', 60_000);
      await a.leases.release(runId, 'executor');
      const reply: MessageRecord = { ...message(conversationId, 0, 'too late'), role: 'AGENT', agentId: 'guide', runId };
      const completed = { type: 'AgentCompleted' as const, conversationId, runId, agentId: 'guide', message: reply, usage: null };
      await expect(a.events.append(completed, held)).rejects.toBeInstanceOf(LeaseLostError);
      expect(await b.messages.get(reply.id)).toBeNull();
      expect(await b.messages.listLast(conversationId, 10)).toEqual([]);
      expect(await b.events.lastSeq(conversationId)).toBe(0);
    });

    it('appends an AgentCompleted whose message is already stored, leaving that message as it is', async () => {
      const conversationId = randomUUID();
      const stored: MessageRecord = { ...message(conversationId, 7, 'first'), role: 'AGENT', agentId: 'guide', runId: 'r' };
      await a.messages.add(stored);
      const again = { ...stored, seq: 0, text: 'second' };
      const completed = await b.events.append({ type: 'AgentCompleted', conversationId, runId: 'r', agentId: 'guide', message: again, usage: null });
      expect(completed.seq).toBe(1);
      expect(await a.messages.get(stored.id)).toEqual(stored);
      expect(await a.messages.listLast(conversationId, 10)).toEqual([stored]);
    });

    it('keeps what was appended as it was, whatever the appender changes afterwards, message and nested values alike', async () => {
      const conversationId = randomUUID();
      const args = { query: 'sales', filters: [{ field: 'region', values: ['EU'] }] };
      const tool = { type: 'ToolExecuting' as const, conversationId, runId: 'r', agentId: 'guide', toolCallId: 't1', toolName: 'lookup', arguments: args };
      const completedMessage = { ...message(conversationId, 0, 'done'), role: 'AGENT' as const };
      const completed = {
        type: 'AgentCompleted' as const,
        conversationId,
        runId: 'r',
        agentId: 'guide',
        message: completedMessage,
        usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
      };
      await a.events.appendBatch([tool, completed]);
      args.filters[0]!.values.push('US');
      args.query = 'changed';
      completedMessage.text = 'changed';
      completed.usage.totalTokens = 0;
      tool.toolName = 'changed';
      const read = await b.events.read(conversationId, 0, 10);
      const local = await a.events.read(conversationId, 0, 10);
      for (const events of [read, local]) {
        expect(events[0]).toMatchObject({ toolName: 'lookup', arguments: { query: 'sales', filters: [{ field: 'region', values: ['EU'] }] } });
        expect(events[1]).toMatchObject({ message: { text: 'done', seq: 2 }, usage: { totalTokens: 7 } });
      }
    });

    it('gives concurrent appends through several instances one gapless seq line', async () => {
      const conversationId = randomUUID();
      const appended = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).events.append(token(conversationId, `d${i}`))));
      expect(appended.map((event) => event.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      const read = await a.events.read(conversationId, 0, 100);
      expect(read.map((event) => event.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      for (const event of read) expect(event).toEqual(appended.find((each) => each.seq === event.seq));
    });

    it('reads pages after a seq', async () => {
      const conversationId = randomUUID();
      for (let i = 1; i <= 7; i += 1) await a.events.append(token(conversationId, `d${i}`));
      expect((await b.events.read(conversationId, 0, 3)).map((event) => event.seq)).toEqual([1, 2, 3]);
      expect((await b.events.read(conversationId, 3, 3)).map((event) => event.seq)).toEqual([4, 5, 6]);
      expect((await b.events.read(conversationId, 6, 3)).map((event) => event.seq)).toEqual([7]);
      expect(await b.events.read(conversationId, 7, 3)).toEqual([]);
      expect(await b.events.read(randomUUID(), 0, 3)).toEqual([]);
    });

    it('keeps the newest events up to the retention count, and says EVENTS_EXPIRED for older cursors', async () => {
      const { a: small, b: smallB } = await fresh({ maxEventsPerConversation: 5, maxAgeMs: 3600_000 });
      const conversationId = randomUUID();
      for (let i = 1; i <= 8; i += 1) await (i % 2 ? small : smallB).events.append(token(conversationId, `d${i}`));
      expect((await smallB.events.read(conversationId, 3, 10)).map((event) => event.seq)).toEqual([4, 5, 6, 7, 8]);
      const error = await small.events.read(conversationId, 2, 10).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(GatewayError);
      expect(error).toMatchObject({ code: 'EVENTS_EXPIRED', extensions: { firstRetainedSeq: 4 } });
      expect(await smallB.events.lastSeq(conversationId)).toBe(8);
    });

    it('drops events older than the retention age', async () => {
      const { a: brief } = await fresh({ maxEventsPerConversation: 100, maxAgeMs: 1000 });
      const conversationId = randomUUID();
      await brief.events.append(token(conversationId, 'old'));
      expect(await brief.events.read(conversationId, 0, 10)).toHaveLength(1);
      const error = await until(
        () =>
          brief.events.read(conversationId, 0, 10).then(
            () => undefined,
            (caught: unknown) => caught,
          ),
        'the event to age out',
      );
      expect(error).toMatchObject({ code: 'EVENTS_EXPIRED' });
      expect(await brief.events.lastSeq(conversationId)).toBe(1);
      const next = await brief.events.append(token(conversationId, 'new'));
      expect(next.seq).toBe(2);
      expect((await brief.events.read(conversationId, 1, 10)).map((event) => event.seq)).toEqual([2]);
    });

    it('lets a follower on one instance replay, then follow live what another instance appends', async () => {
      const conversationId = randomUUID();
      for (let i = 1; i <= 3; i += 1) await a.events.append(token(conversationId, `d${i}`));
      const follower = collect(b, conversationId, 1, 9);
      for (let i = 4; i <= 10; i += 1) await a.events.append(token(conversationId, `d${i}`));
      const events = await follower.done;
      expect(events.map((event) => event.seq)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(events.map((event) => event.type === 'AgentToken' && event.delta)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => `d${i}`));
    });

    it('gives every follower each live event once, in order, with concurrent appends from both instances', async () => {
      const conversationId = randomUUID();
      await a.events.append(token(conversationId, 'start'));
      const followers = Array.from({ length: 5 }, (_, i) => collect(i % 2 ? a : b, conversationId, 1, 40));
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).events.append(token(conversationId, `d${i}`))));
      for (const follower of followers) {
        expect((await follower.done).map((event) => event.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 2));
      }
    });

    it('delivers live events only to a follower without afterSeq', async () => {
      const conversationId = randomUUID();
      await a.events.append(token(conversationId, 'before'));
      const follower = collect(b, conversationId, null, 1);
      // Live-only: it starts at the lastSeq it reads, so keep appending until it hears one.
      const appended: StoredEvent[] = [];
      await until(async () => {
        appended.push(await a.events.append(token(conversationId, 'live')));
        return follower.events.length > 0 ? true : undefined;
      }, 'a live event');
      const [first] = await follower.done;
      expect(first!.seq).toBeGreaterThan(1);
      expect(appended.map((event) => event.seq)).toContain(first!.seq);
    });
  });
});
