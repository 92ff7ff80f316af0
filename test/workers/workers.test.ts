/**
 * Gateways that leave execution to workers (RUN_EXECUTION=workers) and worker processes
 * (`src/start-worker.ts`), all real processes on one private Redis: runs spread over the workers; a
 * cancel or an INTERRUPT through either gateway reaches the worker executing the run; a worker
 * stopped with SIGTERM finishes its run and hands the next one on; a worker killed mid-run has its
 * run end as WORKER_LOST while its conversation goes on; runs sent while no worker is up wait in
 * the (bounded) intent queue; a gateway killed right after answering a send loses nothing.
 *
 * Runs pause between steps (AGENT_STEP_DELAY_MS), so that there is time to act on one while it
 * streams; each worker executes two at a time.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRecorder, SEND, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { expectRunInvariants, followRun, send } from '../support/runs.ts';
import { CANCEL, CONVERSATION, RUN, clusterEnv, startInstance, type Instance } from '../multi/support.ts';
import { executingWorker, metric, startWorker, type WorkerInstance } from './support.ts';

const RUNNING = ['agent_gateway_runs_total', { status: 'RUNNING' }] as const;

describe('gateways and workers on one Redis', () => {
  let redis: TestRedis;
  let env: Record<string, string>;
  let G1: Instance;
  let G2: Instance;
  /** The workers up now. */
  let workers: WorkerInstance[] = [];
  const everyWorker: WorkerInstance[] = [];
  const clients: ReturnType<typeof wsClient>[] = [];

  const launch = async (name: string) => {
    const worker = await startWorker(name, env);
    everyWorker.push(worker);
    return worker;
  };

  beforeAll(async () => {
    redis = await startRedis();
    env = clusterEnv(redis.url, {
      RUN_EXECUTION: 'workers',
      AGENT_STEP_DELAY_MS: '25',
      WORKER_CONCURRENCY: '2',
      WORKER_SHUTDOWN_GRACE_MS: '20000',
    });
    [G1, G2, ...workers] = await Promise.all([
      startInstance('G1', env),
      // Few runs may wait for a worker through G2: the overall limit's test sends through it.
      startInstance('G2', { ...env, MAX_QUEUED_RUNS: '3' }),
      launch('W1'),
      launch('W2'),
    ]);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([G1, G2, ...everyWorker].filter(Boolean).map((each) => each.process.kill()));
    await redis?.stop();
    // MULTI_LOG_LEVEL=info (or debug) shows what each process logged.
    if (process.env['MULTI_LOG_LEVEL']) for (const each of [G1, G2, ...everyWorker]) console.log(`--- ${each.name}\n${each.process.output()}`);
  });

  const subscribe = (instance: Instance, token: string, conversationId: string, afterSeq: number) => {
    const client = wsClient(instance.url, token);
    clients.push(client);
    return new EventRecorder(client, { conversationId, afterSeq });
  };

  const tokenOf = (runId: string) => (events: AgentEvent[]) => events.some((event) => event.runId === runId && event.__typename === 'AgentToken');

  /** The run's terminal event among `events`, after checking it is the run's one and last. */
  const terminalOf = (events: AgentEvent[], runId: string) => {
    const own = events.filter((event) => event.runId === runId);
    expect(own.filter(isTerminal)).toHaveLength(1);
    expect(isTerminal(own.at(-1)!)).toBe(true);
    expect(own.filter((event) => event.__typename === 'AgentStarted')).toHaveLength(1);
    return own.at(-1)!;
  };

  /** A run streaming on one of the two workers (sent through G1, followed through G2), and one queued behind it. */
  const streamingWithOneQueued = async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const sent = await send(G1.url, token, { text: 'Hello there' });
    const recorder = subscribe(G2, token, sent.conversationId, sent.afterSeq);
    await recorder.until(tokenOf(sent.runId), 'the first token');
    const queued = await send(G1.url, token, { text: 'And after that?', conversationId: sent.conversationId });
    const executing = await executingWorker(workers);
    return { token, sent, queued, recorder, executing, survivor: workers.find((worker) => worker !== executing)! };
  };

  const runsStarted = (instances: { url: string }[]) => Promise.all(instances.map(({ url }) => metric(url, ...RUNNING)));

  it('spreads runs over both workers; the gateways execute none', async () => {
    const before = await runsStarted(workers);
    const token = await tokenFor(`user-${randomUUID()}`);
    const sends = await Promise.all(Array.from({ length: 8 }, () => send(G1.url, token, { text: 'Hello there' })));
    for (const sent of sends) {
      const events = await followRun(G2.url, token, sent);
      expectRunInvariants(events, sent);
      expect(events.at(-1)!.__typename).toBe('AgentCompleted');
    }
    const after = await runsStarted(workers);
    const started = after.map((count, index) => count - before[index]!);
    expect(
      started.every((count) => count > 0),
      `runs started per worker: ${started.join(', ')}`,
    ).toBe(true);
    expect(started.reduce((sum, count) => sum + count, 0)).toBe(sends.length);
    expect(await runsStarted([G1, G2])).toEqual([0, 0]);
  });

  it('stops a run executing on a worker when it is cancelled through the other gateway, and interrupts', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const sent = await send(G1.url, token, { text: 'Hello there' });
    const recorder = subscribe(G2, token, sent.conversationId, sent.afterSeq);
    await recorder.until(tokenOf(sent.runId), 'the first token');
    const cancelled = await userClient(G2.url, token)(CANCEL, { runId: sent.runId });
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data.cancelAgentRun.status).toBe('CANCELLED');
    expect(terminalOf(await recorder.untilTerminals(1), sent.runId).__typename).toBe('AgentCancelled');

    const next = await send(G1.url, token, { text: 'Hello again', conversationId: sent.conversationId });
    await recorder.until(tokenOf(next.runId), 'a token of the next run');
    const interrupting = await send(G2.url, token, { text: 'Hello, something else', conversationId: sent.conversationId, onActiveRun: 'INTERRUPT' });
    const events = await recorder.untilTerminals(3);
    expect(terminalOf(events, next.runId).__typename).toBe('AgentCancelled');
    expect(terminalOf(events, interrupting.runId).__typename).toBe('AgentCompleted');
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => sent.afterSeq + 1 + index));
    recorder.stop();
  });

  it('lets a worker stopped with SIGTERM finish its run and exit 0; the run queued behind it runs on the other', async () => {
    const { sent, queued, recorder, executing: stopping, survivor } = await streamingWithOneQueued();
    const [survivorBefore] = await runsStarted([survivor]);

    stopping.process.child.kill('SIGTERM');
    const events = await recorder.untilTerminals(2);
    expect(terminalOf(events, sent.runId).__typename).toBe('AgentCompleted');
    expect(terminalOf(events, queued.runId).__typename).toBe('AgentCompleted');
    expect(await stopping.process.exited).toEqual({ code: 0, signal: null });
    expect((await runsStarted([survivor]))[0]! - survivorBefore!).toBe(1);
    recorder.stop();
    workers = [survivor, await launch('W3')];
  });

  it('ends a run whose worker is killed with AgentFailed (WORKER_LOST, retryable); the conversation goes on on the survivor', async () => {
    const { token, sent, queued, recorder, executing: doomed, survivor } = await streamingWithOneQueued();

    doomed.process.child.kill('SIGKILL');
    await doomed.process.exited;
    const events = await recorder.untilTerminals(2);
    const lost = terminalOf(events, sent.runId);
    expect(lost.__typename).toBe('AgentFailed');
    expect(lost['error']).toMatchObject({ code: 'WORKER_LOST', retryable: true });
    expect(terminalOf(events, queued.runId).__typename).toBe('AgentCompleted');
    const run = (await userClient(G1.url, token)(RUN, { id: sent.runId })).data.run;
    expect(run).toMatchObject({ status: 'FAILED', error: { code: 'WORKER_LOST', retryable: true } });

    const later = await send(G2.url, token, { text: 'Hello once more', conversationId: sent.conversationId });
    expect(terminalOf(await recorder.untilTerminals(3), later.runId).__typename).toBe('AgentCompleted');
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => sent.afterSeq + 1 + index));
    recorder.stop();
    workers = [survivor, await launch('W4')];
  });

  it('keeps runs sent while no worker is up until one starts, and refuses more than MAX_QUEUED_RUNS waiting', async () => {
    for (const worker of workers) worker.process.child.kill('SIGTERM');
    for (const worker of workers) expect(await worker.process.exited).toEqual({ code: 0, signal: null });
    workers = [];

    const token = await tokenFor(`user-${randomUUID()}`);
    const waiting = [
      await send(G1.url, token, { text: 'Hello there' }),
      await send(G2.url, token, { text: 'Hello there' }),
      await send(G2.url, token, { text: 'Hello there' }),
    ];
    // G2 allows three runs waiting for a worker: a fourth send is refused and stores nothing.
    const conversationId = `refused-${randomUUID()}`;
    const refused = await userClient(G2.url, token)(SEND, { input: { text: 'Hello there', conversationId } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    expect((await userClient(G1.url, token)(CONVERSATION, { id: conversationId })).data.conversation).toBeNull();
    for (const sent of waiting) {
      expect((await userClient(G1.url, token)(RUN, { id: sent.runId })).data.run.status).toBe('QUEUED');
    }

    workers = [await launch('W5')];
    for (const sent of waiting) {
      const events = await followRun(G1.url, token, sent);
      expectRunInvariants(events, sent);
      expect(events.at(-1)!.__typename).toBe('AgentCompleted');
    }
  });

  it('does not lose a run whose gateway is killed right after answering the send', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const sent = await send(G1.url, token, { text: 'Hello there' });
    G1.process.child.kill('SIGKILL');
    await G1.process.exited;
    const events = await followRun(G2.url, token, sent);
    expectRunInvariants(events, sent);
    expect(events.at(-1)!.__typename).toBe('AgentCompleted');
  });
});
