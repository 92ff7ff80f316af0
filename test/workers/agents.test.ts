/**
 * Gateways and workers as real processes (`npm start`, `npm run worker`) reading the same agent
 * settings: LLM_BASE_URL/LLM_MODEL pointing at a local OpenAI-compatible server and
 * REMOTE_AGENTS at a local AG-UI server. A worker runs the model's and the remote agent's runs,
 * a worker killed mid-stream ends its run WORKER_LOST, and a worker asked for an agent it was
 * not given ends that run UNKNOWN_AGENT instead of hanging.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRecorder, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { startFakeAgUi, type FakeAgUi } from '../support/fake-ag-ui.ts';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { expectRunInvariants, followRun, send, seqAfterFirstToken } from '../support/runs.ts';
import { clusterEnv, startInstance, type Instance } from '../multi/support.ts';
import { startWorker, type WorkerInstance } from './support.ts';

const RUN = `query ($id: ID!) { run(id: $id) { status usage { totalTokens } error { code retryable } } }`;
const remoteAgent = (id: string, url: string) => ({ id, name: id, description: 'Runs elsewhere.', url });

describe('agents on gateways and workers', () => {
  let redis: TestRedis;
  let llm: FakeLlm;
  let remote: FakeAgUi;
  let gateway: Instance;
  /** A gateway that knows one remote agent more than the workers do. */
  let ahead: Instance;
  let worker: WorkerInstance;
  let env: Record<string, string>;
  let token: string;

  beforeAll(async () => {
    [redis, llm, remote] = await Promise.all([startRedis(), startFakeLlm(), startFakeAgUi()]);
    env = clusterEnv(redis.url, {
      RUN_EXECUTION: 'workers',
      LLM_BASE_URL: llm.url,
      LLM_MODEL: 'fake-model',
      REMOTE_AGENTS: JSON.stringify([remoteAgent('remote.research', remote.url)]),
    });
    [gateway, ahead, worker] = await Promise.all([
      startInstance('G', env),
      startInstance('G+', { ...env, REMOTE_AGENTS: JSON.stringify([remoteAgent('remote.research', remote.url), remoteAgent('remote.newer', remote.url)]) }),
      startWorker('W', env),
    ]);
    token = await tokenFor(`user-${randomUUID()}`);
  });
  afterAll(async () => {
    await Promise.all([gateway, ahead, worker].filter(Boolean).map((each) => each.process.kill()));
    await Promise.all([redis?.stop(), llm?.close(), remote?.close()]);
  });

  it('runs the liaison on the model in the worker, with its usage on the run', async () => {
    const sent = await send(gateway.url, token, { text: 'Hello', target: { kind: 'LIAISON', pillar: 'JOURNEY' } });
    const events = await followRun(gateway.url, token, sent);
    expectRunInvariants(events, sent);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentCompleted', message: { text: 'Hello from the model.' } });
    expect((await userClient(gateway.url, token)(RUN, { id: sent.runId })).data.run).toMatchObject({ usage: { totalTokens: 17 } });
  });

  it('fails a remote run whose stream is cut off mid-run as UNAVAILABLE, retryable', async () => {
    const sent = await send(gateway.url, token, { text: 'cut when told', target: { kind: 'LIAISON', agentId: 'remote.research' } });
    // Cut once the run's text is here: cut at once, the worker could read the break first and drop the text unread.
    await seqAfterFirstToken(gateway.url, token, sent);
    remote.cut();
    const events = await followRun(gateway.url, token, sent);
    expectRunInvariants(events, sent);
    expect(events.some((event) => event.__typename === 'AgentToken')).toBe(true);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentFailed', error: { code: 'UNAVAILABLE', retryable: true } });
  });

  it('ends a run for an agent the worker was not given with UNKNOWN_AGENT, not retryable', async () => {
    const sent = await send(ahead.url, token, { text: 'Hello', target: { kind: 'LIAISON', agentId: 'remote.newer' } });
    const events = await followRun(ahead.url, token, sent);
    expectRunInvariants(events, sent);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentFailed', error: { code: 'UNKNOWN_AGENT', retryable: false } });
  });

  it.each([
    ['a model', { kind: 'LIAISON', pillar: 'INSIGHTS' }, () => llm],
    ['a remote agent', { kind: 'LIAISON', agentId: 'remote.research' }, () => remote],
  ] as const)('ends a run on %s whose worker is killed mid-stream with WORKER_LOST; the upstream sees its request dropped', async (_, target, upstream) => {
    const sent = await send(gateway.url, token, { text: 'hang on', target });
    const client = wsClient(gateway.url, token);
    const recorder = new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'a token');
    const dropped = upstream().nextAbort();
    worker.process.child.kill('SIGKILL');
    expect((await dropped).body.messages.at(-1)?.content).toBe('hang on');
    // Another worker settles the run once its lease has run out.
    worker = await startWorker(`W-${randomUUID()}`, env);
    const events = await recorder.untilTerminals(1);
    recorder.stop();
    await client.dispose();
    expectRunInvariants(events, sent);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentFailed', error: { code: 'WORKER_LOST', retryable: true } });
  });
});
