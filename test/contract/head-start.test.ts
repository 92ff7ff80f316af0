/**
 * Starting a conversation's head run in one script, on one Redis (Backend.startHead): it does
 * what the scheduler's steps under the queue's lock do (the run's lease for the holder, RUNNING,
 * startedAt kept for a resumed run), and nothing at all while someone holds that lock or when
 * the head is not a run the scheduler may start; and it opens the run it starts, as its
 * executor would next (its AgentStarted stored, its history and the live generation read). How
 * many round trips it saves a run is counted in ./redis-round-trips.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runEvent, type StoredEvent } from '../../src/domain/events.ts';
import type { RunRecord } from '../../src/domain/records.ts';
import { runQueueLock, type Backend, type StartedHead } from '../../src/store/interfaces.ts';
import { createMemoryBackend } from '../../src/store/memory/index.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, helloRun, helloSend, redisWorld, type Instances } from './worlds.ts';

const HOLDER = 'instance-a';
const LEASE_MS = 60_000;
/** How many messages of history a run started here is given. */
const HISTORY = 20;

describe('Backend.startHead on one Redis', () => {
  const world = redisWorld();
  let instances: Instances;
  let backend: Backend;
  let startHead: NonNullable<Backend['startHead']>;

  beforeAll(() => world.setup());
  afterAll(() => world.teardown());
  afterEach(() => instances?.close());

  /** Fresh state, under a key prefix of its own. */
  async function fresh(): Promise<void> {
    instances = await world.instances();
    backend = instances.a;
    if (!backend.startHead) throw new Error('the Redis backend on one Redis starts a head run in one script');
    startHead = backend.startHead.bind(backend);
  }

  /** A run sent and queued in a conversation of its own, its lease with a sender that is gone. */
  async function queued(overrides: Partial<RunRecord> = {}): Promise<RunRecord> {
    const run = helloRun(randomUUID(), overrides);
    expect((await backend.sends.commit(helloSend(run))).outcome).toBe('stored');
    return run;
  }

  /** What starting the conversation's head as `holder` did; the run as it started, when it did. */
  const start = (conversationId: string, holder = HOLDER, startedAt = new Date().toISOString()) =>
    startHead(conversationId, holder, LEASE_MS, startedAt, HISTORY);
  async function startedOf(conversationId: string, startedAt?: string): Promise<StartedHead> {
    const result = await start(conversationId, HOLDER, startedAt);
    if (result.outcome !== 'started') throw new Error(`not started: ${JSON.stringify(result)}`);
    return result.started;
  }

  it('starts a queued head run: RUNNING since now, its lease the holder’s, its appends fenced with the epoch it answers', async () => {
    await fresh();
    const run = await queued();
    const startedAt = new Date().toISOString();
    const started = await startedOf(run.conversationId, startedAt);
    expect(started.resumed).toBe(false);
    expect(started.run).toMatchObject({ id: run.id, status: 'RUNNING', startedAt });
    expect(await backend.runs.get(run.id)).toEqual(started.run);
    expect(await backend.leases.renew(run.id, HOLDER, LEASE_MS)).toBe(true);
    expect(await backend.leases.renew(run.id, 'dead-instance', LEASE_MS)).toBe(false);
    const event = runEvent({ type: 'AgentStarted' }, started.run, run.agentId);
    await expect(backend.events.append(event, started.leaseEpoch)).resolves.toMatchObject({ type: 'AgentStarted' });
    await expect(backend.events.append(event, started.leaseEpoch - 1)).rejects.toThrow();
  });

  it('opens the run it starts: its AgentStarted stored and heard here as the event it answers, its history and the live generation read', async () => {
    await fresh();
    const run = await queued();
    const { conversationId } = run;
    let subscribed!: () => void;
    const listening = new Promise<void>((resolve) => (subscribed = resolve));
    const heard = new Promise<StoredEvent>((resolve) => {
      const stop = backend.events.listen(conversationId, (event) => {
        // Once the subscription is active, the conversation's newest event is announced: its MessageCreated.
        if (event.type !== 'AgentStarted') return subscribed();
        stop();
        resolve(event);
      });
    });
    await listening;
    const { opened } = await startedOf(conversationId);
    const agentStarted = { ...runEvent({ type: 'AgentStarted' }, run, run.agentId), seq: 2 };
    expect(opened!.agentStarted).toMatchObject(agentStarted);
    expect(await backend.events.read(conversationId, 1, 10)).toEqual([opened!.agentStarted]);
    // Delivered to this process's listeners as the object the start answered, not parsed again.
    expect(await heard).toBe(opened!.agentStarted);
    expect(opened!.history).toEqual(await backend.messages.listLastThrough(conversationId, HISTORY, run.userMessageId));
    expect(opened!.history.map((message) => message.id)).toEqual([run.userMessageId]);
    expect(opened!.generation).toBe(await backend.liveGeneration());
  });

  it('changes nothing while someone holds the queue’s lock, and says so', async () => {
    await fresh();
    const run = await queued();
    const inside = await backend.locks.withLock(runQueueLock(run.conversationId), () => start(run.conversationId));
    expect(inside).toEqual({ outcome: 'locked' });
    expect((await backend.runs.get(run.id))!.status).toBe('QUEUED');
    expect(await backend.events.lastSeq(run.conversationId)).toBe(1);
    expect(await backend.leases.renew(run.id, HOLDER, LEASE_MS)).toBe(false);
    // Once the lock is let go of, the run starts.
    expect((await start(run.conversationId)).outcome).toBe('started');
  });

  it('changes nothing when the head run is not one the scheduler may start, and answers it as the queue’s head reads', async () => {
    await fresh();
    const run = await queued();
    await startedOf(run.conversationId);
    const running = await backend.runs.get(run.id);
    // RUNNING already: started by someone, nothing to do (a second holder takes no lease).
    expect(await start(run.conversationId, 'instance-b')).toEqual({ outcome: 'found', head: { runId: run.id, run: running } });
    expect(await backend.runs.get(run.id)).toEqual(running);
    expect(await backend.events.lastSeq(run.conversationId)).toBe(2);
    expect(await backend.leases.renew(run.id, HOLDER, LEASE_MS)).toBe(true);
    // Ended while it waited (cancelled): its turn is taken the long way, with its events.
    const cancelled = await queued();
    const ended = await backend.runs.transition(cancelled.id, ['QUEUED'], { status: 'CANCELLED', endedIdle: true });
    expect(await start(cancelled.conversationId)).toEqual({ outcome: 'found', head: { runId: cancelled.id, run: ended } });
    expect(await backend.runQueue.head(cancelled.conversationId)).toEqual({ runId: cancelled.id, run: ended });
    expect(await start(randomUUID())).toEqual({ outcome: 'found', head: null });
  });

  it('keeps when a resumed run first started, and says it resumed', async () => {
    await fresh();
    const firstStarted = '2026-01-02T03:04:05.000Z';
    const run = await queued({ startedAt: firstStarted });
    const started = await startedOf(run.conversationId);
    expect(started.resumed).toBe(true);
    expect(started.run).toMatchObject({ status: 'RUNNING', startedAt: firstStarted });
    // It has its AgentStarted from before: none is stored again, its history is read all the same.
    expect(started.opened!.agentStarted).toBeNull();
    expect(await backend.events.lastSeq(run.conversationId)).toBe(1);
    expect(started.opened!.history.map((message) => message.id)).toEqual([run.userMessageId]);
  });
});

it('is absent where the scheduler’s steps cost no round trips (memory)', () => {
  const backend = createMemoryBackend(DEFAULT_RETENTION, BACKEND_SETTINGS);
  expect(backend.startHead).toBeUndefined();
});
