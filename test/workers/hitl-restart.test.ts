/**
 * A waiting run holds no process: every gateway and worker is killed while it waits, fresh ones
 * start, and an answer through yet another gateway resumes it (on the new worker, or on that
 * gateway when gateways execute runs themselves). Counted over
 * the whole run: each tool call executed once (one ToolExecuting and one ToolCompleted, each
 * after its approval), each event once, seq gapless.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { tokenFor, userClient } from '../support/clients.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { send } from '../support/runs.ts';
import { clusterEnv, startInstance, type Instance } from '../multi/support.ts';
import { startWorker } from './support.ts';

const SALES_CSV = 'month,revenue\n2026-01-01,120\n2026-02-01,135\n2026-03-01,160';
const RUN = `query ($id: ID!) { run(id: $id) { status pendingInputs { id toolName toolCallId } } }`;
const EVENTS = `query ($id: ID!) { conversation(id: $id) { events(first: 1000) { __typename id seq runId
  ... on ToolExecuting { toolCallId toolName }
  ... on ToolCompleted { toolCallId toolError: error { code } }
  ... on AgentThinking { text }
  ... on AgentInputRequested { request { id toolCallId } }
  ... on AgentInputReceived { requestId } } } }`;
const RESPOND = `mutation ($id: ID!) { respondToAgent(input: { requestId: $id, approved: true }) { status } }`;

let redis: TestRedis;
const running: Instance[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(running.map((instance) => instance.process.kill()));
  await redis?.stop();
});

/** Asks until the run waits on a request (bounded): across restarts there is no subscription to await. */
async function untilWaiting(url: string, token: string, runId: string) {
  const gql = userClient(url, token);
  for (let attempt = 0; attempt < 2000; attempt += 1) {
    const { data } = await gql(RUN, { id: runId });
    if (data?.run?.status === 'WAITING' && data.run.pendingInputs.length > 0) return data.run.pendingInputs[0] as { id: string; toolName: string };
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(data?.run?.status)) throw new Error(`the run ended ${data.run.status} instead of waiting`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the run never waited');
}

async function killAll() {
  await Promise.all(running.splice(0).map((instance) => instance.process.kill()));
}

it.each(['workers', 'embedded'] as const)(
  'resumes (RUN_EXECUTION=%s) after every process was killed while it waited, doing nothing twice',
  async (execution) => {
    const env = clusterEnv(redis.url, { RUN_EXECUTION: execution, TOOLS_REQUIRING_APPROVAL: 'insights.profile_csv,insights.chart_spec' });
    const withWorker = execution === 'workers';
    const token = await tokenFor(`user-${randomUUID()}`);
    running.push(await startInstance('G1', env), ...(withWorker ? [await startWorker('W1', env)] : []));
    const sent = await send(running[0]!.url, token, {
      text: 'What trends are in this data?',
      surface: 'INSIGHTS',
      context: { files: [{ name: 'sales.csv', content: SALES_CSV }] },
    });
    const approved: string[] = [];
    for (const round of [1, 2]) {
      const pending = await untilWaiting(running[0]!.url, token, sent.runId);
      approved.push(pending.toolName);
      await killAll();
      // Fresh processes only: the one that answers is not the one that serves the rest.
      const [gateway, answering, ...worker] = await Promise.all([
        startInstance(`G${round}a`, env),
        startInstance(`G${round}b`, env),
        ...(withWorker ? [startWorker(`W${round + 1}`, env)] : []),
      ]);
      running.push(gateway!, answering!, ...worker);
      const answer = await userClient(answering!.url, token)(RESPOND, { id: pending.id });
      expect(answer.errors).toBeUndefined();
      expect(answer.data.respondToAgent.status).toBe('ANSWERED');
    }
    expect(approved).toEqual(['insights.profile_csv', 'insights.chart_spec']);

    const gql = userClient(running[0]!.url, token);
    await expect.poll(async () => (await gql(RUN, { id: sent.runId })).data.run.status, { timeout: 20_000 }).toBe('COMPLETED');
    const events = (await gql(EVENTS, { id: sent.conversationId })).data.conversation.events as Record<string, any>[];
    expect(events.map((event) => event['seq'])).toEqual(events.map((_, index) => index + 1));
    expect(new Set(events.map((event) => event['id'])).size).toBe(events.length);
    const ofType = (type: string) => events.filter((event) => event['__typename'] === type);
    expect(ofType('AgentStarted')).toHaveLength(1);
    expect(ofType('AgentCompleted')).toHaveLength(1);
    expect(ofType('AgentInputRequested')).toHaveLength(2);
    expect(ofType('AgentInputReceived')).toHaveLength(2);
    const thoughts = ofType('AgentThinking').map((event) => event['text']);
    expect(new Set(thoughts).size).toBe(thoughts.length);
    // Each call: asked, answered, then executed exactly once and completed exactly once.
    for (const requested of ofType('AgentInputRequested')) {
      const { toolCallId, id } = requested['request'];
      const executing = events.filter((event) => event['__typename'] === 'ToolExecuting' && event['toolCallId'] === toolCallId);
      const completed = events.filter((event) => event['__typename'] === 'ToolCompleted' && event['toolCallId'] === toolCallId);
      expect(executing).toHaveLength(1);
      expect(completed).toHaveLength(1);
      expect(completed[0]!['toolError']).toBeNull();
      const received = events.find((event) => event['__typename'] === 'AgentInputReceived' && event['requestId'] === id)!;
      expect(received['seq']).toBeGreaterThan(requested['seq']);
      expect(executing[0]!['seq']).toBeGreaterThan(received['seq']);
    }
    expect(ofType('ToolExecuting').map((event) => event['toolName'])).toEqual(['insights.profile_csv', 'insights.chart_spec']);
  },
  120_000,
);

afterEach(killAll);
