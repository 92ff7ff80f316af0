/**
 * How survivors settle the runs of an instance that died, on memory and on Redis: a Runtime
 * (the survivor) over a backend whose state an instance left behind mid-way, set up by hand
 * through the Backend interfaces. Each case is one place where an instance can die.
 */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_AGENTS } from '../../src/agents/index.ts';
import { AgentRegistry } from '../../src/agents/registry.ts';
import { followConversation } from '../../src/events/follow.ts';
import { TERMINAL_EVENT_TYPES, type EventBody, type StoredEvent } from '../../src/domain/events.ts';
import { PLATFORM_TOOLS } from '../../src/runtime/platform-tools.ts';
import { ToolRegistry } from '../../src/runtime/tools.ts';
import { Runtime, type RuntimeOptions } from '../../src/runtime/runtime.ts';
import type { Backend } from '../../src/store/interfaces.ts';
import type { RunRecord, RunStatus } from '../../src/domain/records.ts';
import {
  helloRun,
  helloSend,
  memoryWorld,
  postgresClusterWorld,
  postgresRedisWorld,
  redisClusterWorld,
  redisWorld,
  storeSend,
  until,
  type Instances,
  type World,
} from './worlds.ts';

const worlds: World[] = [memoryWorld, redisWorld(), redisClusterWorld(), postgresRedisWorld(), postgresClusterWorld()];
const LEASE_MS = 300;

describe.each(worlds)('recovering runs on the $name backend', (world) => {
  let instances: Instances;
  let backend: Backend;
  const runtimes: Runtime[] = [];

  beforeAll(async () => {
    await world.setup();
    instances = await world.instances();
    backend = instances.a;
  });
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((runtime) => runtime.shutdown()));
  });
  afterAll(async () => {
    await instances?.close();
    await world.teardown();
  });

  const survivor = (overrides: Partial<RuntimeOptions> = {}, on: Backend = instances.b) => {
    const runtime = new Runtime({
      backend: on,
      agents: new AgentRegistry(BUILT_IN_AGENTS),
      tools: new ToolRegistry(PLATFORM_TOOLS),
      runTimeoutMs: 60_000,
      stepDelayMs: 0,
      historyMessages: 200,
      logger: pino({ level: 'silent' }),
      leaseMs: LEASE_MS,
      sweepIntervalMs: 20,
      inputTimeoutMs: 60_000,
      ...overrides,
    });
    runtimes.push(runtime);
    return runtime;
  };

  /**
   * What a send left behind (its message and MessageCreated, its run, queued unless told, with
   * a dead instance's lease), with the run's status as told.
   */
  const sent = async (conversationId: string, options: { queue?: boolean; status?: RunStatus; started?: boolean } = {}) => {
    const now = new Date().toISOString();
    const run = helloRun(conversationId, {
      status: options.status ?? 'QUEUED',
      startedAt: options.started ? now : null,
      cancelReason: options.status === 'CANCELLED' ? 'Cancelled by the user.' : null,
    });
    expect((await backend.sends.commit(helloSend(run))).outcome).toBe('stored');
    // A state no send leaves any more (it stores its run and queues it in one step), but one
    // that an instance of an earlier version may have left.
    if (options.queue === false) await backend.runQueue.remove(conversationId, run.id);
    return run;
  };

  /**
   * A run executing (slowly) on an instance whose lease renewals never reach the store and
   * answer `answer` instead; nobody sweeps there.
   */
  const runOnInstanceWhoseRenewalsAnswer = async (answer: boolean, conversationId: string, stepDelayMs = 20) => {
    const leases = Object.assign(Object.create(instances.a.leases) as Backend['leases'], { renew: async () => answer });
    const cutOff: Backend = { ...instances.a, leases };
    const executor = survivor({ stepDelayMs, sweepIntervalMs: 60_000 }, cutOff);
    const { id: runId } = await storeSend(cutOff, executor, conversationId);
    return { executor, runId };
  };

  /** Appends an event of a run as its (now dead) executor did. */
  const emitted = (run: RunRecord, body: EventBody) =>
    backend.events.append({ ...body, conversationId: run.conversationId, runId: run.id, agentId: run.agentId });

  /** The conversation's whole log once `terminals` runs have ended in it. */
  const logUntil = async (conversationId: string, terminals: number) => {
    const controller = new AbortController();
    const events: StoredEvent[] = [];
    for await (const event of followConversation(backend.events, conversationId, { afterSeq: 0, bufferLimit: 1000, signal: controller.signal })) {
      events.push(event);
      if (events.filter((each) => TERMINAL_EVENT_TYPES.has(each.type)).length >= terminals) break;
    }
    return events;
  };

  const ofRun = (events: StoredEvent[], runId: string) => events.filter((event) => event.runId === runId).map((event) => event.type);

  it('starts a queued run whose sender died before starting it', async () => {
    const conversationId = randomUUID();
    const run = await sent(conversationId);
    await backend.leases.acquire(run.id, conversationId, 'dead-instance', 0);
    survivor();
    const events = await logUntil(conversationId, 1);
    expect(ofRun(events, run.id).slice(0, 2)).toEqual(['MessageCreated', 'AgentStarted']);
    expect(ofRun(events, run.id).at(-1)).toBe('AgentCompleted');
    expect((await backend.runs.get(run.id))?.status).toBe('COMPLETED');
  });

  it('ends a run that was stored but never queued as WORKER_LOST, in its turn', async () => {
    const conversationId = randomUUID();
    const run = await sent(conversationId, { queue: false });
    await backend.leases.acquire(run.id, conversationId, 'dead-instance', 0);
    survivor();
    const events = await logUntil(conversationId, 1);
    expect(ofRun(events, run.id)).toEqual(['MessageCreated', 'AgentStarted', 'AgentFailed']);
    expect(events.at(-1)).toMatchObject({ type: 'AgentFailed', error: { code: 'WORKER_LOST', retryable: true } });
    expect(await backend.runs.get(run.id)).toMatchObject({ status: 'FAILED', error: { code: 'WORKER_LOST' } });
    // The survivor takes the run out of the queue right after appending its terminal event.
    await until(async () => ((await backend.runQueue.list(conversationId)).length === 0 ? true : undefined), 'the queue to empty');
  });

  it('ends a run whose executor died mid-run as WORKER_LOST, then runs the next one', async () => {
    const conversationId = randomUUID();
    const lost = await sent(conversationId, { status: 'RUNNING', started: true });
    await emitted(lost, { type: 'AgentStarted' });
    await emitted(lost, { type: 'AgentToken', delta: 'Half ' });
    await backend.leases.acquire(lost.id, conversationId, 'dead-instance', 0);
    const next = await sent(conversationId);
    await backend.leases.acquire(next.id, conversationId, 'dead-instance', 60_000);
    survivor();
    const events = await logUntil(conversationId, 2);
    expect(ofRun(events, lost.id)).toEqual(['MessageCreated', 'AgentStarted', 'AgentToken', 'AgentFailed']);
    expect(events.find((event) => event.runId === lost.id && event.type === 'AgentFailed')).toMatchObject({
      error: { code: 'WORKER_LOST', retryable: true },
    });
    expect(ofRun(events, next.id).at(-1)).toBe('AgentCompleted');
    const firstOfNext = events.findIndex((event) => event.runId === next.id && event.type === 'AgentStarted');
    expect(firstOfNext).toBeGreaterThan(events.findIndex((event) => event.runId === lost.id && event.type === 'AgentFailed'));
  });

  it('gives a run cancelled while its executor was dead its AgentCancelled, once', async () => {
    const conversationId = randomUUID();
    const run = await sent(conversationId, { status: 'CANCELLED', started: true });
    await emitted(run, { type: 'AgentStarted' });
    await backend.leases.acquire(run.id, conversationId, 'dead-instance', 0);
    survivor();
    const events = await logUntil(conversationId, 1);
    expect(ofRun(events, run.id)).toEqual(['MessageCreated', 'AgentStarted', 'AgentCancelled']);
    // The survivor takes the run out of the queue right after appending its terminal event.
    await until(async () => ((await backend.runQueue.list(conversationId)).length === 0 ? true : undefined), 'the queue to empty');
  });

  it('does not end twice a run whose executor died after its terminal event', async () => {
    const conversationId = randomUUID();
    const done = await sent(conversationId, { status: 'CANCELLED', started: true });
    await emitted(done, { type: 'AgentStarted' });
    await emitted(done, { type: 'AgentCancelled', reason: 'Cancelled by the user.' });
    await backend.leases.acquire(done.id, conversationId, 'dead-instance', 0);
    const next = await sent(conversationId);
    survivor();
    const events = await logUntil(conversationId, 2);
    expect(ofRun(events, done.id)).toEqual(['MessageCreated', 'AgentStarted', 'AgentCancelled']);
    expect(ofRun(events, next.id).at(-1)).toBe('AgentCompleted');
    expect(events.filter((event) => TERMINAL_EVENT_TYPES.has(event.type))).toHaveLength(2);
  });

  it('lets an executor that lost its lease stop without a terminal event, which the survivor appends once', async () => {
    const conversationId = randomUUID();
    // The cut-off instance: its renewals never reach the store, as if it were partitioned away.
    const { executor, runId } = await runOnInstanceWhoseRenewalsAnswer(false, conversationId);
    survivor();
    await logUntil(conversationId, 1);
    await executor.shutdown(); // the cut-off executor has let go: nothing more comes from it
    const events = await backend.events.read(conversationId, 0, 1000);
    expect(ofRun(events, runId).slice(0, 2)).toEqual(['MessageCreated', 'AgentStarted']);
    expect(events.filter((event) => TERMINAL_EVENT_TYPES.has(event.type))).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'AgentFailed', error: { code: 'WORKER_LOST', retryable: true } });
    expect(await backend.runs.get(runId)).toMatchObject({ status: 'FAILED', error: { code: 'WORKER_LOST' } });
  });

  it('refuses what an executor appends once its run was taken over, so nothing of the run follows its end', async () => {
    const conversationId = randomUUID();
    // A stalled instance: its renewals never reach the store, yet it believes them (its
    // heartbeats stalled while the run went on), so only the fence can stop it.
    const { executor, runId } = await runOnInstanceWhoseRenewalsAnswer(true, conversationId);
    survivor();
    const events = await logUntil(conversationId, 1);
    expect(await backend.runs.get(runId)).toMatchObject({ status: 'FAILED', error: { code: 'WORKER_LOST' } });
    await executor.shutdown(); // whatever the stalled executor still does, it has done now
    const log = await backend.events.read(conversationId, 0, 1000);
    const lostAt = log.findIndex((event) => event.runId === runId && TERMINAL_EVENT_TYPES.has(event.type));
    expect(log[lostAt]).toMatchObject({ type: 'AgentFailed', error: { code: 'WORKER_LOST' } });
    expect(log.slice(lostAt + 1).filter((event) => event.runId === runId)).toEqual([]);
    expect(log.slice(0, events.length)).toEqual(events);
    expect(log.filter((event) => TERMINAL_EVENT_TYPES.has(event.type))).toHaveLength(1);
  });

  it('keeps the end a survivor gave a run when the instance that lost the run stops', async () => {
    const conversationId = randomUUID();
    // Stalled mid-step: it still executes the run when it is stopped.
    const { executor, runId } = await runOnInstanceWhoseRenewalsAnswer(true, conversationId, 10_000);
    survivor();
    await logUntil(conversationId, 1);
    await executor.shutdown();
    expect(await backend.runs.get(runId)).toMatchObject({ status: 'FAILED', error: { code: 'WORKER_LOST' } });
    const events = await backend.events.read(conversationId, 0, 1000);
    expect(events.filter((event) => TERMINAL_EVENT_TYPES.has(event.type))).toHaveLength(1);
  });
});
