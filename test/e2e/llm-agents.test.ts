/**
 * The guide and liaisons on a language model (LLM_BASE_URL / LLM_MODEL), through graphql-ws, in
 * every topology. A local OpenAI-compatible server stands in for the provider: nothing of ours
 * is replaced. It also sees what the gateway does to the provider: how often it is called, and
 * when a request is abandoned.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llmAgent } from '../../src/agents/llm/llm-agent.ts';
import { openAICompatibleModel } from '../../src/agents/llm/openai-compatible.ts';
import type { RunningServer } from '../../src/server.ts';
import { SEND, tokenFor, userClient, type AgentEvent } from '../support/clients.ts';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.ts';
import { freePort } from '../support/process.ts';
import { expectResumedRest, expectRunInvariants, followRun, send, sendAndFollow, seqAfterFirstToken, typesOf } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const RUN = `query ($id: ID!) { run(id: $id) { status usage { inputTokens outputTokens totalTokens } error { code retryable } } }`;
const CANCEL = `mutation ($runId: ID!) { cancelAgentRun(runId: $runId) { status } }`;
const INSIGHTS = { kind: 'LIAISON', pillar: 'INSIGHTS' };

describe('LLM agents', () => {
  let llm: FakeLlm;
  let server: RunningServer;
  let token: string;
  let gql: ReturnType<typeof userClient>;
  const tokensOf = (events: AgentEvent[]) => events.filter((event) => event.__typename === 'AgentToken').map((event) => event.delta);
  const failureOf = (events: AgentEvent[]) => events.at(-1)?.['error'];

  beforeAll(async () => {
    llm = await startFakeLlm();
    const deadPort = await freePort();
    server = await startTestServer(
      { LLM_BASE_URL: llm.url, LLM_MODEL: 'fake-model', LLM_MAX_RETRIES: '1' },
      {
        // A model whose server is not there: connections are refused.
        agents: [
          llmAgent({
            id: 'test.unreachable',
            name: 'Unreachable',
            description: 'A model nobody serves.',
            model: openAICompatibleModel({ baseURL: `http://127.0.0.1:${deadPort}/v1`, model: 'none' }),
            maxRetries: 0,
          }),
        ],
      },
    );
    token = await tokenFor('llm-user');
    gql = userClient(server.url, token);
  });
  afterAll(async () => {
    await server?.close();
    await llm?.close();
  });

  it("streams the model's deltas as AgentToken, joined into AgentCompleted, with the usage on the run", async () => {
    const { sent, events } = await sendAndFollow(server.url, token, { text: 'Hello', target: INSIGHTS });
    expectRunInvariants(events, sent);
    expect(tokensOf(events)).toEqual(['Hello ', 'from ', 'the ', 'model.']);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentCompleted', message: { text: 'Hello from the model.', agentId: 'liaison.insights' } });
    expect((await gql(RUN, { id: sent.runId })).data.run).toEqual({
      status: 'COMPLETED',
      usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 },
      error: null,
    });
    expect(llm.requests.at(-1)?.body.model).toBe('fake-model');
  });

  it("runs the model's tool calls through the registry as pairs, and sums usage over the steps", async () => {
    const { sent, events } = await sendAndFollow(server.url, token, { text: 'Profile this with a tool: a,b\n1,2', target: INSIGHTS });
    expectRunInvariants(events, sent);
    const tools = events.filter((event) => event.__typename.startsWith('Tool'));
    expect(tools.map((event) => [event.__typename, event.toolName, event.toolCallId])).toEqual([
      ['ToolExecuting', 'insights.profile_csv', `${sent.runId}:call_1`],
      ['ToolCompleted', 'insights.profile_csv', `${sent.runId}:call_1`],
    ]);
    expect(tools[0]?.['arguments']).toEqual({ name: 'message' });
    expect(tools[1]?.['result']).toMatchObject({ rowCount: 1 });
    // The same artifact the deterministic liaison shows for the same result.
    const artifact = events.find((event) => event.__typename === 'AgentArtifact');
    expect(artifact).toMatchObject({ kind: 'TABLE', title: 'Profile of message', data: { columns: expect.arrayContaining(['column', 'type']) } });
    expect(events.indexOf(artifact!)).toBe(events.indexOf(tools[1]!) + 1);
    expect(tokensOf(events).join('')).toMatch(/^I used the tool/);
    expect((await gql(RUN, { id: sent.runId })).data.run.usage).toEqual({ inputTokens: 24, outputTokens: 10, totalTokens: 34 });
  });

  it('emits reasoning as AgentThinking before the answer', async () => {
    const { events } = await sendAndFollow(server.url, token, { text: 'Please reason it out', target: INSIGHTS });
    expect(typesOf(events).slice(0, 4)).toEqual(['MessageCreated', 'AgentStarted', 'AgentThinking', 'AgentToken']);
    expect(events[2]?.['text']).toBe('The user wants a reasoned answer.');
  });

  it('lets the guide hand off with a tool call, the liaison answering in the same run', async () => {
    const { sent, events } = await sendAndFollow(server.url, token, { text: 'What do the data trends say?' });
    expectRunInvariants(events, { ...sent, agentId: 'guide' });
    const handoffs = events.filter((event) => event.__typename === 'AgentHandoff');
    expect(handoffs).toEqual([expect.objectContaining({ fromAgentId: 'guide', toAgentId: 'liaison.insights' })]);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentCompleted', message: { agentId: 'liaison.insights', text: 'Hello from the model.' } });
  });

  it('lets the guide have liaisons collaborate, then streams its combined answer', async () => {
    const { sent, events } = await sendAndFollow(server.url, token, { text: 'compare the two please' });
    expectRunInvariants(events, { ...sent, agentId: 'guide' });
    const handoffs = events.filter((event) => event.__typename === 'AgentHandoff');
    expect(handoffs.map((event) => event.toAgentId)).toEqual(['liaison.content', 'liaison.insights']);
    // The liaisons' answers are the guide's material: only its combined answer streams.
    expect(events.filter((event) => event.__typename === 'AgentToken').every((event) => event.agentId === 'guide')).toBe(true);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentCompleted', message: { agentId: 'guide', text: 'Hello from the model.' } });
  });

  it.each([
    ['status 429', 'RATE_LIMITED', true, 2],
    ['status 500', 'UNAVAILABLE', true, 2],
    ['status 401', 'MODEL_ERROR', false, 1],
    ['cut', 'UNAVAILABLE', true, 1],
    ['ghost', 'UNKNOWN_TOOL', false, 1],
    ['badargs', 'INVALID_TOOL_INPUT', false, 1],
  ])('fails "%s" as %s (retryable: %s) after %i model request(s)', async (text, code, retryable, requests) => {
    const before = llm.requests.length;
    const { sent, events } = await sendAndFollow(server.url, token, { text, target: INSIGHTS });
    expectRunInvariants(events, sent);
    expect(failureOf(events)).toMatchObject({ code, retryable });
    // Retried only before anything streamed (LLM_MAX_RETRIES=1), never after.
    expect(llm.requests.length - before).toBe(requests);
  });

  it('fails a run whose model cannot be reached as UNAVAILABLE, retryable', async () => {
    const { sent, events } = await sendAndFollow(server.url, token, { text: 'Hello?', target: { kind: 'LIAISON', agentId: 'test.unreachable' } });
    expectRunInvariants(events, sent);
    expect(failureOf(events)).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
  });

  it('closes the request to the model on cancel, and a resumed subscription gets exactly the rest', async () => {
    const sent = await send(server.url, token, { text: 'hang on', target: INSIGHTS });
    const lastSeen = await seqAfterFirstToken(server.url, token, sent);
    const abort = llm.nextAbort();
    expect((await gql(CANCEL, { runId: sent.runId })).data.cancelAgentRun.status).toBe('CANCELLED');
    expect((await abort).body.messages.at(-1)?.content).toBe('hang on');
    const whole = await expectResumedRest(server.url, token, sent, lastSeen);
    expect(whole.at(-1)).toMatchObject({ __typename: 'AgentCancelled', reason: 'Cancelled by the user.' });
  });

  it('closes the request to the model when a newer message interrupts the run', async () => {
    const sent = await send(server.url, token, { text: 'hang on', target: INSIGHTS });
    await seqAfterFirstToken(server.url, token, sent);
    const abort = llm.nextAbort();
    const newer = await send(server.url, token, { text: 'Hello instead', target: INSIGHTS, conversationId: sent.conversationId, onActiveRun: 'INTERRUPT' });
    expect((await abort).body.messages.at(-1)?.content).toBe('hang on');
    const whole = await followRun(server.url, token, sent);
    expect(whole.at(-1)).toMatchObject({ __typename: 'AgentCancelled', reason: 'Interrupted by a newer message.' });
    expect((await followRun(server.url, token, newer)).at(-1)?.__typename).toBe('AgentCompleted');
  });

  it('does not call the model again for a repeated clientMessageId', async () => {
    const input = { text: 'Hello once', target: INSIGHTS, clientMessageId: 'llm-once' };
    const { sent } = await sendAndFollow(server.url, token, input);
    const calls = llm.requests.length;
    const again = await gql(SEND, { input });
    expect(again.data.sendAgentMessage.run.id).toBe(sent.runId);
    expect((await gql(RUN, { id: sent.runId })).data.run.status).toBe('COMPLETED');
    expect(llm.requests.length).toBe(calls);
  });
});

describe('an LLM run that runs out of time', () => {
  let llm: FakeLlm;
  let server: RunningServer;
  beforeAll(async () => {
    llm = await startFakeLlm();
    // The model never finishes ("hang"), so the run can only end by its timeout.
    server = await startTestServer({ LLM_BASE_URL: llm.url, LLM_MODEL: 'fake-model', RUN_TIMEOUT_MS: '1000' });
  });
  afterAll(async () => {
    await server?.close();
    await llm?.close();
  });

  it('ends TIMEOUT and closes the request to the model', async () => {
    const token = await tokenFor('llm-timeout');
    const abort = llm.nextAbort();
    const { sent, events } = await sendAndFollow(server.url, token, { text: 'hang on', target: INSIGHTS });
    expectRunInvariants(events, sent);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentFailed', error: { code: 'TIMEOUT', retryable: true } });
    expect((await abort).body.messages.at(-1)?.content).toBe('hang on');
  });
});
