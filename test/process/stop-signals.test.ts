/**
 * Stopping a process as an operator does, through the real `npm start` and `npm run worker`:
 * a supervisor (or Ctrl-C in a terminal) signals the whole process group, so npm and the
 * process it started both get the signal, and npm forwards its own: one stop request arrives
 * twice within milliseconds. That must still stop gracefully (the run executing there finishes
 * within the grace period); only a signal sent clearly later stops at once, and even then the
 * run ends visibly, with a retryable AgentFailed. A process killed outright leaves its run to
 * whoever is alive: with workers, that is a gateway, even when no worker is up.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPEATED_SIGNAL_MS } from '../../src/process-shell.ts';
import { EventRecorder, SEND, closeCodeOf, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { spawnGateway, spawnNpmScript, waitForAnnouncedUrl, type ServerProcess } from '../support/process.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { TEST_SECRET } from '../support/server.ts';

/** A run of the insights liaison over an attached CSV: several steps, each AGENT_STEP_DELAY_MS apart. */
const PROFILE = {
  text: 'Profile my data thoroughly',
  surface: 'INSIGHTS',
  context: { files: [{ name: 'sales.csv', content: 'month,revenue,region\n2026-01,120,north\n2026-02,135,south\n2026-03,150,north\n2026-04,170,east\n' }] },
};

const COMMON_ENV = {
  NODE_ENV: 'test',
  HOST: '127.0.0.1',
  AUTH_JWT_SECRET: TEST_SECRET,
  // Info: each process announces its URL and its shutdown steps in its log.
  LOG_LEVEL: 'info',
  // Survivors notice a process that died within about two seconds.
  RUN_LEASE_MS: '1500',
  RUN_SWEEP_INTERVAL_MS: '200',
  REDIS_LOCK_TTL_MS: '1000',
};

const started: ServerProcess[] = [];
const clients: ReturnType<typeof wsClient>[] = [];

async function start(script: 'start' | 'worker', env: Record<string, string>): Promise<{ process: ServerProcess; url: string }> {
  const process = spawnNpmScript(script, { ...COMMON_ENV, [script === 'start' ? 'PORT' : 'WORKER_PORT']: '0', ...env });
  started.push(process);
  return { process, url: await waitForAnnouncedUrl(process) };
}

/** Signals npm's whole process group, as a supervisor or a terminal does. */
function signalGroup(process: ServerProcess, signal: NodeJS.Signals): void {
  globalThis.process.kill(-process.child.pid!, signal);
}

/** Resolves once the process has printed `text` (its log is the only sign of where its stop is). */
async function printed(process: ServerProcess, text: string): Promise<void> {
  while (!process.output().includes(text)) {
    await new Promise((resolve) => process.child.stdout!.once('data', resolve));
  }
}

/**
 * SIGTERM to the group, and once the process has begun its grace period, SIGTERM again, late
 * enough not to be taken for the first one's echo: the time between the two is what is tested.
 */
async function signalTwice(process: ServerProcess, recorder: EventRecorder): Promise<void> {
  signalGroup(process, 'SIGTERM');
  await printed(process, '"msg":"stopping: letting runs finish"');
  await delay(REPEATED_SIGNAL_MS + 100);
  expect(recorder.events.some(isTerminal)).toBe(false);
  signalGroup(process, 'SIGTERM');
}

/** Sends the profiling run through `url` and follows it there until its AgentStarted. */
async function profileRun(url: string) {
  const token = await tokenFor(`stopper-${randomUUID()}`);
  const sent = await userClient(url, token)(SEND, { input: PROFILE });
  expect(sent.errors).toBeUndefined();
  const { conversation, afterSeq, run } = sent.data.sendAgentMessage;
  const client = wsClient(url, token);
  clients.push(client);
  const closed = closeCodeOf(client);
  const recorder = new EventRecorder(client, { conversationId: conversation.id, afterSeq });
  await recorder.until((events) => events.some((event) => event.__typename === 'AgentThinking'), 'the first AgentThinking');
  return { recorder, runId: run.id as string, afterSeq: afterSeq as number, closed };
}

/** The run's one terminal event, last, after a gapless run of seqs. */
function terminalOf(events: AgentEvent[], runId: string, afterSeq: number): AgentEvent {
  const terminals = events.filter(isTerminal);
  expect(terminals).toHaveLength(1);
  expect(terminals[0]!.runId).toBe(runId);
  expect(events.at(-1)).toBe(terminals[0]);
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => afterSeq + 1 + index));
  return terminals[0]!;
}

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await Promise.all(started.map((process) => process.kill()));
});

describe('a worker stopped by a signal to its process group', () => {
  let redis: TestRedis;
  let gateway: { process: ServerProcess; url: string };
  let redisEnv: Record<string, string>;

  beforeAll(async () => {
    redis = await startRedis();
    redisEnv = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `stop-${randomUUID()}:` };
    gateway = await start('start', { ...redisEnv, RUN_EXECUTION: 'workers' });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('lets the run it executes complete within the grace period, and exits 0', async () => {
    const worker = await start('worker', { ...redisEnv, AGENT_STEP_DELAY_MS: '60' });
    const { recorder, runId, afterSeq } = await profileRun(gateway.url);

    signalGroup(worker.process, 'SIGTERM');
    const terminal = terminalOf(await recorder.untilTerminals(1), runId, afterSeq);
    expect(terminal.__typename).toBe('AgentCompleted');
    expect(await worker.process.exited).toEqual({ code: 0, signal: null });
    expect(worker.process.output()).toContain('"msg":"stopping: letting runs finish"');
    expect(worker.process.output()).not.toContain('stopping at once');
  });

  it('ends the run at once with a retryable AgentFailed on a second signal sent later, and exits 1', async () => {
    const worker = await start('worker', { ...redisEnv, AGENT_STEP_DELAY_MS: '700' });
    const { recorder, runId, afterSeq } = await profileRun(gateway.url);

    await signalTwice(worker.process, recorder);

    const terminal = terminalOf(await recorder.untilTerminals(1), runId, afterSeq);
    expect(terminal.__typename).toBe('AgentFailed');
    expect(terminal['error']).toMatchObject({ code: 'SHUTDOWN', retryable: true });
    expect(await worker.process.exited).toEqual({ code: 1, signal: null });
    expect(worker.process.output()).toContain('"msg":"stopping at once"');
  });

  it('ends the run of its only worker, killed outright, as WORKER_LOST with no worker started again', async () => {
    const worker = await start('worker', { ...redisEnv, AGENT_STEP_DELAY_MS: '700' });
    const { recorder, runId, afterSeq } = await profileRun(gateway.url);

    signalGroup(worker.process, 'SIGKILL');
    expect((await worker.process.exited).signal).toBe('SIGKILL');

    const terminal = terminalOf(await recorder.untilTerminals(1), runId, afterSeq);
    expect(terminal.__typename).toBe('AgentFailed');
    expect(terminal['error']).toMatchObject({ code: 'WORKER_LOST', retryable: true });
  });
});

describe('a gateway executing runs, stopped by a signal to its process group', () => {
  it('lets the run it executes complete within the grace period, then closes sockets with 1001 and exits 0', async () => {
    const gateway = await start('start', { AGENT_STEP_DELAY_MS: '60' });
    const { recorder, runId, afterSeq, closed } = await profileRun(gateway.url);

    signalGroup(gateway.process, 'SIGTERM');
    const terminal = terminalOf(await recorder.untilTerminals(1), runId, afterSeq);
    expect(terminal.__typename).toBe('AgentCompleted');
    expect(await closed).toBe(1001);
    expect(await gateway.process.exited).toEqual({ code: 0, signal: null });
    expect(gateway.process.output()).not.toContain('stopping at once');
  });

  it('ends the run at once with a retryable AgentFailed on a second signal sent later, and exits 1', async () => {
    const gateway = await start('start', { AGENT_STEP_DELAY_MS: '700' });
    const { recorder, runId, afterSeq } = await profileRun(gateway.url);

    await signalTwice(gateway.process, recorder);

    const terminal = terminalOf(await recorder.untilTerminals(1), runId, afterSeq);
    expect(terminal.__typename).toBe('AgentFailed');
    expect(terminal['error']).toMatchObject({ code: 'SHUTDOWN', retryable: true });
    expect(await gateway.process.exited).toEqual({ code: 1, signal: null });
  });

  it('leaves the run of a gateway killed outright to another gateway, which ends it as WORKER_LOST', async () => {
    const redis = await startRedis();
    try {
      const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `stop-${randomUUID()}:` };
      const doomed = await start('start', { ...env, AGENT_STEP_DELAY_MS: '700' });
      const survivor = spawnGateway({ ...COMMON_ENV, ...env, PORT: '0' });
      started.push(survivor);
      const survivorUrl = await waitForAnnouncedUrl(survivor);

      const token = await tokenFor(`stopper-${randomUUID()}`);
      const sent = (await userClient(doomed.url, token)(SEND, { input: PROFILE })).data.sendAgentMessage;
      const client = wsClient(survivorUrl, token);
      clients.push(client);
      const recorder = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq });
      await recorder.until((events) => events.some((event) => event.__typename === 'AgentThinking'), 'the first AgentThinking');

      signalGroup(doomed.process, 'SIGKILL');
      const terminal = terminalOf(await recorder.untilTerminals(1), sent.run.id, sent.afterSeq);
      expect(terminal.__typename).toBe('AgentFailed');
      expect(terminal['error']).toMatchObject({ code: 'WORKER_LOST', retryable: true });
    } finally {
      await redis.stop();
    }
  });
});
