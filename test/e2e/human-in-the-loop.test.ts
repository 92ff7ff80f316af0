/**
 * Human in the loop through the real API: tool approvals, questions and client tools pause a run
 * (WAITING, holding no process), an answer through respondToAgent resumes it, and nothing it
 * did before the pause happens twice. Runs on memory, Redis, and Redis with workers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { HITL_TOOLS, approver, executions } from '../support/hitl-agents.ts';
import { expectGapless, expectRunInvariants, send, typesOf, type SentRun } from '../support/runs.ts';
import { SHARED_TOPOLOGY, WORKERS_EXECUTE, sameDeploymentAs, startTestServer } from '../support/server.ts';

export const RESPOND = /* GraphQL */ `
  mutation Respond($input: RespondToAgentInput!) {
    respondToAgent(input: $input) {
      id
      status
      kind
      response {
        approved
        answer
        comment
        respondedBy
      }
    }
  }
`;
const RUN = `query ($id: ID!) { run(id: $id) { status pendingInputs { id kind status toolName } } }`;
const CONVERSATION = `query ($id: ID!) { conversation(id: $id) { lastSeq pendingInputs { id runId status prompt options } } }`;
const EVENTS = `query ($id: ID!) { conversation(id: $id) { events(first: 1000) { __typename seq runId } } }`;

const shared = SHARED_TOPOLOGY;

describe('human in the loop', () => {
  let server: RunningServer;
  let token: string;
  let gql: ReturnType<typeof userClient>;
  const opened: { dispose(): void | Promise<void> }[] = [];

  const settings = { RUN_SWEEP_INTERVAL_MS: '50' };
  const registries = { agents: [approver], tools: HITL_TOOLS };

  beforeAll(async () => {
    server = await startTestServer(settings, registries);
    token = await tokenFor('hitl-user');
    gql = userClient(server.url, token);
  });
  afterAll(async () => {
    await Promise.all(opened.map((client) => client.dispose()));
    await server.close();
  });

  /** Sends `text` to the approver and follows the conversation until the run asks something. */
  async function untilAsked(text: string, extra: Record<string, unknown> = {}, on = server) {
    const sent = await send(on.url, token, { text, target: { kind: 'LIAISON', agentId: approver.id }, ...extra });
    const client = wsClient(on.url, token);
    opened.push(client);
    const recorder = new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
    const request = await nextRequest(recorder, sent);
    return { sent, recorder, request };
  }

  async function nextRequest(recorder: EventRecorder, sent: SentRun, nth = 1) {
    const events = await recorder.until(
      (received) => received.filter((event) => event.runId === sent.runId && event.__typename === 'AgentInputRequested').length >= nth,
      'an input request',
    );
    return events.filter((event) => event.__typename === 'AgentInputRequested')[nth - 1]!.request;
  }

  const runEvents = async (recorder: EventRecorder, sent: SentRun) =>
    (await recorder.until((events) => events.some((event) => event.runId === sent.runId && isTerminal(event)), 'the end of the run')).filter(
      (event) => event.runId === sent.runId,
    );

  const respond = (input: Record<string, unknown>, as = gql) => as(RESPOND, { input });
  const codeOf = (response: { errors?: { extensions?: Record<string, unknown> }[] }) => response.errors?.[0]?.extensions?.['code'];
  const replyOf = (events: AgentEvent[]) => events.at(-1)?.['message']?.text;
  const statusOf = async (runId: string) => (await gql(RUN, { id: runId })).data.run;
  /** What a refused answer must leave as it was. */
  const snapshot = async (conversationId: string) => (await gql(CONVERSATION, { id: conversationId })).data.conversation;

  it('pauses on a tool that needs approval, holds it as WAITING, and on approval runs it once', async () => {
    const { sent, recorder, request } = await untilAsked('transfer approve-1');
    expect(request).toMatchObject({ kind: 'APPROVAL', status: 'PENDING', toolName: 'test.transfer', arguments: { ref: 'approve-1', amount: 5 } });
    expect(request.toolCallId).toEqual(expect.any(String));
    expect(Date.parse(request.expiresAt) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    await expect.poll(async () => (await statusOf(sent.runId)).status).toBe('WAITING');
    expect((await statusOf(sent.runId)).pendingInputs).toEqual([{ id: request.id, kind: 'APPROVAL', status: 'PENDING', toolName: 'test.transfer' }]);
    expect((await snapshot(sent.conversationId)).pendingInputs.map((pending: { id: string }) => pending.id)).toEqual([request.id]);
    expect(executions.get('test.transfer approve-1')).toBeUndefined();

    const answered = await respond({ requestId: request.id, approved: true });
    expect(answered.errors).toBeUndefined();
    expect(answered.data.respondToAgent).toMatchObject({ id: request.id, status: 'ANSWERED', response: { approved: true, respondedBy: 'hitl-user' } });
    const events = await runEvents(recorder, sent);
    expect(typesOf(events)).toEqual([
      'MessageCreated',
      'AgentStarted',
      'AgentThinking',
      'AgentInputRequested',
      'AgentInputReceived',
      'ToolExecuting',
      'ToolCompleted',
      ...events.filter((event) => event.__typename === 'AgentToken').map(() => 'AgentToken'),
      'AgentCompleted',
    ]);
    const [received, executing, completed] = events.slice(4, 7);
    expect(received).toMatchObject({ requestId: request.id, response: { approved: true } });
    expect(executing).toMatchObject({ toolCallId: request.toolCallId, toolName: 'test.transfer' });
    expect(completed).toMatchObject({ toolCallId: request.toolCallId, result: { transferred: 5 }, toolError: null });
    expect(replyOf(events)).toBe('Transferred 5.');
    expectRunInvariants(events, sent);
    expect(executions.get('test.transfer approve-1')).toBe(1);
    expect(await statusOf(sent.runId)).toEqual({ status: 'COMPLETED', pendingInputs: [] });
    const all = (await gql(EVENTS, { id: sent.conversationId })).data.conversation.events;
    expectGapless(all);
  });

  it('on denial never runs the tool, ends its call TOOL_DENIED with the comment, and the agent goes on', async () => {
    const { sent, recorder, request } = await untilAsked('transfer deny-1');
    const denied = await respond({ requestId: request.id, approved: false, comment: 'Not this month.' });
    expect(denied.data.respondToAgent).toMatchObject({ status: 'ANSWERED', response: { approved: false, comment: 'Not this month.' } });
    const events = await runEvents(recorder, sent);
    expect(typesOf(events)).not.toContain('ToolExecuting');
    const completed = events.find((event) => event.__typename === 'ToolCompleted')!;
    expect(completed).toMatchObject({ toolCallId: request.toolCallId, result: null, toolError: { code: 'TOOL_DENIED', message: 'Not this month.' } });
    expect(events.indexOf(completed)).toBe(events.findIndex((event) => event.__typename === 'AgentInputReceived') + 1);
    expect(replyOf(events)).toBe('Not transferred: Not this month.');
    expectRunInvariants(events, sent);
    expect(executions.get('test.transfer deny-1')).toBeUndefined();
  });

  it('asks for each of several approvals on its own, one pause each', async () => {
    const { sent, recorder, request } = await untilAsked('two several-1');
    await respond({ requestId: request.id, approved: true });
    const second = await nextRequest(recorder, sent, 2);
    expect(second.id).not.toBe(request.id);
    expect(second.arguments).toEqual({ ref: 'several-1', amount: 2 });
    await respond({ requestId: second.id, approved: false, comment: 'Once is enough.' });
    const events = await runEvents(recorder, sent);
    expect(replyOf(events)).toBe('Transferred 1.Not transferred: Once is enough.');
    expect(events.filter((event) => event.__typename === 'AgentStarted')).toHaveLength(1);
    expect(events.filter((event) => event.__typename === 'AgentThinking')).toHaveLength(1);
    expectRunInvariants(events, sent);
    expect(executions.get('test.transfer several-1')).toBe(1);
  });

  it('asks for approval as the tool decides from its arguments', async () => {
    const small = await send(server.url, token, { text: 'lookup small-1 3', target: { kind: 'LIAISON', agentId: approver.id } });
    const client = wsClient(server.url, token);
    opened.push(client);
    const events = await runEvents(new EventRecorder(client, { conversationId: small.conversationId, afterSeq: small.afterSeq }), small);
    expect(typesOf(events)).not.toContain('AgentInputRequested');
    expect(replyOf(events)).toBe('Found 3.');
    const { request } = await untilAsked('lookup big-1 30');
    expect(request).toMatchObject({ kind: 'APPROVAL', toolName: 'test.lookup', arguments: { ref: 'big-1', size: 30 } });
  });

  it('asks a question with options, refuses an answer off the list (storing nothing), and goes on with the answer', async () => {
    const { sent, recorder, request } = await untilAsked('question');
    expect(request).toMatchObject({ kind: 'QUESTION', prompt: 'Which color?', options: ['red', 'blue'], toolCallId: null });
    const before = await snapshot(sent.conversationId);
    for (const bad of [{ answer: 'green' }, { approved: true }, {}, { answer: 'red', approved: false }]) {
      expect(codeOf(await respond({ requestId: request.id, ...bad })), JSON.stringify(bad)).toBe('BAD_USER_INPUT');
    }
    expect(await snapshot(sent.conversationId)).toEqual(before);
    await respond({ requestId: request.id, answer: 'blue' });
    const events = await runEvents(recorder, sent);
    expect(events.find((event) => event.__typename === 'AgentInputReceived')).toMatchObject({ response: { answer: 'blue', approved: null } });
    expect(replyOf(events)).toBe('You chose blue.');
    expectRunInvariants(events, sent);
  });

  it('asks a question with an answer schema and takes only an answer that matches it', async () => {
    const { sent, recorder, request } = await untilAsked('schema');
    expect(request.answerSchema).toMatchObject({ required: ['count'] });
    const before = await snapshot(sent.conversationId);
    for (const bad of [{ count: 0 }, { count: 'three' }, 'three', null]) {
      expect(codeOf(await respond({ requestId: request.id, answer: bad })), JSON.stringify(bad)).toBe('BAD_USER_INPUT');
    }
    expect(await snapshot(sent.conversationId)).toEqual(before);
    await respond({ requestId: request.id, answer: { count: 3 } });
    expect(replyOf(await runEvents(recorder, sent))).toBe('Counting 3.');
  });

  it("hands a client tool to the frontend and takes its answer as the call's result", async () => {
    const { sent, recorder, request } = await untilAsked('client');
    expect(request).toMatchObject({ kind: 'CLIENT_TOOL', toolName: 'test.locate', arguments: {} });
    expect(codeOf(await respond({ requestId: request.id, approved: true }))).toBe('BAD_USER_INPUT');
    await respond({ requestId: request.id, answer: { city: 'Lisbon' } });
    const events = await runEvents(recorder, sent);
    expect(events.find((event) => event.__typename === 'ToolCompleted')).toMatchObject({
      toolCallId: request.toolCallId,
      result: { city: 'Lisbon' },
      toolError: null,
    });
    expect(replyOf(events)).toBe('You are in Lisbon.');
    expectRunInvariants(events, sent);
  });

  it('fails a run that asks what nobody can answer (repeated options, a broken schema) as INVALID_QUESTION, asking nothing', async () => {
    for (const text of ['bad-question', 'bad-schema']) {
      const sent = await send(server.url, token, { text, target: { kind: 'LIAISON', agentId: approver.id } });
      const client = wsClient(server.url, token);
      opened.push(client);
      const events = await runEvents(new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq }), sent);
      expect(events.at(-1), text).toMatchObject({ __typename: 'AgentFailed', error: { code: 'INVALID_QUESTION', retryable: false } });
      expect(typesOf(events)).not.toContain('AgentInputRequested');
      expect((await snapshot(sent.conversationId)).pendingInputs).toEqual([]);
    }
  });

  it('expires an unanswered request and ends the run AgentFailed INPUT_EXPIRED; a late answer is CONFLICT', async () => {
    const { sent, recorder, request } = await untilAsked('expire x 200');
    const events = await runEvents(recorder, sent);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentFailed', error: { code: 'INPUT_EXPIRED' } });
    expectRunInvariants(events, sent);
    const ended = await snapshot(sent.conversationId);
    const late = await respond({ requestId: request.id, answer: 'yes' });
    expect(codeOf(late)).toBe('CONFLICT');
    expect(late.errors?.[0]?.extensions?.['status']).toBe('EXPIRED');
    expect(await snapshot(sent.conversationId)).toEqual(ended);
    expect((await statusOf(sent.runId)).status).toBe('FAILED');
  });

  it('cancels a waiting run: AgentCancelled, its request CANCELLED, and answers are CONFLICT', async () => {
    const { sent, recorder, request } = await untilAsked('transfer cancel-1');
    await expect.poll(async () => (await statusOf(sent.runId)).status).toBe('WAITING');
    const cancelled = await gql(`mutation ($id: ID!) { cancelAgentRun(runId: $id) { status } }`, { id: sent.runId });
    expect(cancelled.data.cancelAgentRun.status).toBe('CANCELLED');
    const events = await runEvents(recorder, sent);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentCancelled' });
    expectRunInvariants(events, sent);
    const ended = await snapshot(sent.conversationId);
    expect(ended.pendingInputs).toEqual([]);
    const conflict = await respond({ requestId: request.id, approved: true });
    expect(codeOf(conflict)).toBe('CONFLICT');
    expect(conflict.errors?.[0]?.extensions?.['status']).toBe('CANCELLED');
    expect(await snapshot(sent.conversationId)).toEqual(ended);
    expect(executions.get('test.transfer cancel-1')).toBeUndefined();
  });

  it('interrupts a waiting run with a new message, which then runs', async () => {
    const { sent, recorder } = await untilAsked('transfer interrupt-1');
    await expect.poll(async () => (await statusOf(sent.runId)).status).toBe('WAITING');
    const next = await send(server.url, token, {
      text: 'nothing',
      conversationId: sent.conversationId,
      onActiveRun: 'INTERRUPT',
      target: { kind: 'LIAISON', agentId: approver.id },
    });
    const events = await recorder.until((received) => received.some((event) => event.runId === next.runId && isTerminal(event)), 'the new run');
    const first = events.filter((event) => event.runId === sent.runId);
    expect(first.at(-1)).toMatchObject({ __typename: 'AgentCancelled', reason: 'Interrupted by a newer message.' });
    expectRunInvariants(first, sent);
    expect(events.filter((event) => event.runId === next.runId).at(-1)?.__typename).toBe('AgentCompleted');
  });

  it('queues a new message behind a waiting run (ENQUEUE) until the answer lets the first finish', async () => {
    const { sent, recorder, request } = await untilAsked('question');
    await expect.poll(async () => (await statusOf(sent.runId)).status).toBe('WAITING');
    const next = await send(server.url, token, { text: 'nothing', conversationId: sent.conversationId, target: { kind: 'LIAISON', agentId: approver.id } });
    const active = await gql(`query ($id: ID!) { conversation(id: $id) { activeRun { id status } } }`, { id: sent.conversationId });
    expect(active.data.conversation.activeRun).toEqual({ id: sent.runId, status: 'WAITING' });
    expect((await statusOf(next.runId)).status).toBe('QUEUED');
    await respond({ requestId: request.id, answer: 'red' });
    const events = await recorder.until((received) => received.some((event) => event.runId === next.runId && isTerminal(event)), 'the queued run');
    const firstEnd = events.findIndex((event) => event.runId === sent.runId && isTerminal(event));
    const secondStart = events.findIndex((event) => event.runId === next.runId && event.__typename === 'AgentStarted');
    expect(firstEnd).toBeGreaterThan(0);
    expect(secondStart).toBeGreaterThan(firstEnd);
  });

  it('settles racing answers once: one wins, the others get CONFLICT, and the tool runs once', async () => {
    const second = shared ? await startTestServer({ ...settings, ...sameDeploymentAs(server) }, registries) : server;
    try {
      const { sent, recorder, request } = await untilAsked('transfer race-1');
      const clients = [gql, userClient(second.url, token)];
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) => respond({ requestId: request.id, approved: i % 2 === 0, comment: `answer ${i}` }, clients[i % 2])),
      );
      const won = answers.filter((answer) => !answer.errors);
      expect(won).toHaveLength(1);
      expect(answers.filter((answer) => codeOf(answer) === 'CONFLICT')).toHaveLength(5);
      const events = await runEvents(recorder, sent);
      expect(events.filter((event) => event.__typename === 'AgentInputReceived')).toHaveLength(1);
      expectRunInvariants(events, sent);
      expect(executions.get('test.transfer race-1') ?? 0).toBe(won[0]!.data.respondToAgent.response.approved ? 1 : 0);
      // Repeating the winning response returns the request unchanged; anything else is CONFLICT.
      const winner = won[0]!.data.respondToAgent;
      const repeat = await respond({ requestId: request.id, approved: winner.response.approved, comment: winner.response.comment }, clients[1]);
      expect(repeat.data.respondToAgent).toEqual(winner);
    } finally {
      if (second !== server) await second.close();
    }
  });

  it('counts requests opened, answered and expired, and the time they waited', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const sample = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    // With workers, runs (and so the requests they open) are counted by the worker's own metrics,
    // and an expiry by whichever process swept first; answers always by the gateway taking them.
    if (!WORKERS_EXECUTE) {
      expect(sample('agent_gateway_input_requests_total{event="opened"}')).toBeGreaterThan(5);
      expect(sample('agent_gateway_input_requests_total{event="expired"}')).toBeGreaterThanOrEqual(1);
    }
    expect(sample('agent_gateway_input_requests_total{event="answered"}')).toBeGreaterThan(5);
    expect(sample('agent_gateway_input_wait_seconds_count')).toBe(sample('agent_gateway_input_requests_total{event="answered"}'));
  });

  it("refuses answers that are not the caller's (NOT_FOUND) or do not fit (BAD_USER_INPUT), storing nothing", async () => {
    const { sent, request } = await untilAsked('transfer refuse-1');
    const before = await snapshot(sent.conversationId);
    const stranger = userClient(server.url, await tokenFor('someone-else'));
    expect(codeOf(await respond({ requestId: request.id, approved: true }, stranger))).toBe('NOT_FOUND');
    expect(codeOf(await respond({ requestId: 'no-such-request', approved: true }))).toBe('NOT_FOUND');
    expect(codeOf(await respond({ requestId: 'not an id!', approved: true }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await respond({ requestId: request.id }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await respond({ requestId: request.id, approved: true, answer: 'yes' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await respond({ requestId: request.id, approved: false, comment: 'x'.repeat(9000) }))).toBe('BAD_USER_INPUT');
    expect(await snapshot(sent.conversationId)).toEqual(before);
    expect(executions.get('test.transfer refuse-1')).toBeUndefined();
    await respond({ requestId: request.id, approved: false });
    expect(codeOf(await respond({ requestId: request.id, approved: true }))).toBe('CONFLICT');
  });
});

describe('a wait longer than RUN_TIMEOUT_MS', () => {
  let server: RunningServer;
  beforeAll(async () => {
    // A timeout far above the run's own executing time, even on a loaded machine; the wait below outlasts it.
    server = await startTestServer({ RUN_TIMEOUT_MS: '2000', RUN_SWEEP_INTERVAL_MS: '50' }, { agents: [approver], tools: HITL_TOOLS });
  });
  afterAll(() => server.close());

  it('does not count the time spent waiting: the run completes after an answer that came later than the timeout', async () => {
    const token = await tokenFor('patient-user');
    const gql = userClient(server.url, token);
    const sent = await send(server.url, token, { text: 'question', target: { kind: 'LIAISON', agentId: approver.id } });
    const client = wsClient(server.url, token);
    try {
      const recorder = new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
      const [requested] = (await recorder.until((events) => events.some((event) => event.__typename === 'AgentInputRequested'), 'the question')).filter(
        (event) => event.__typename === 'AgentInputRequested',
      );
      // Time itself is what is tested here: the wait must outlast the run's timeout.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect((await gql(RUN, { id: sent.runId })).data.run.status).toBe('WAITING');
      await gql(RESPOND, { input: { requestId: requested!.request.id, answer: 'red' } });
      const events = await recorder.until((received) => received.some(isTerminal), 'the end');
      expect(events.at(-1)).toMatchObject({ __typename: 'AgentCompleted', message: { text: 'You chose red.' } });
    } finally {
      await client.dispose();
    }
  });
});

describe('waiting runs and execution slots', () => {
  let server: RunningServer;
  beforeAll(async () => {
    // One slot (a worker's concurrency, with workers): a waiting run that held it would block the rest.
    server = await startTestServer({ WORKER_CONCURRENCY: '1' }, { agents: [approver], tools: HITL_TOOLS });
  });
  afterAll(() => server.close());

  it('holds no slot while waiting: other conversations run, and wait, beside it', async () => {
    const token = await tokenFor('slot-user');
    const gql = userClient(server.url, token);
    const target = { kind: 'LIAISON', agentId: approver.id };
    const waiting = [await send(server.url, token, { text: 'question', target }), await send(server.url, token, { text: 'transfer slot-1', target })];
    for (const run of waiting) {
      await expect.poll(async () => (await gql(RUN, { id: run.runId })).data.run.status, { timeout: 10_000 }).toBe('WAITING');
    }
    const plain = await send(server.url, token, { text: 'nothing', target });
    await expect.poll(async () => (await gql(RUN, { id: plain.runId })).data.run.status, { timeout: 10_000 }).toBe('COMPLETED');
    for (const run of waiting) expect((await gql(RUN, { id: run.runId })).data.run.status).toBe('WAITING');
  });
});
