/**
 * Approvals on a language model: a model's call of a tool that needs approval pauses the run;
 * approved, the tool runs and the model continues from its result; denied, the model continues
 * with the denial as the tool's result. The local OpenAI-compatible stand-in sees what the model
 * is given, in every topology.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, isTerminal, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { startFakeLlm, type FakeLlm, type ChatRequest } from '../support/fake-llm.ts';
import { expectRunInvariants, send, typesOf } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const RESPOND = `mutation ($input: RespondToAgentInput!) { respondToAgent(input: $input) { status } }`;
const JOURNEY = { kind: 'LIAISON', pillar: 'JOURNEY' };

describe('LLM agents and approvals', () => {
  let llm: FakeLlm;
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    llm = await startFakeLlm();
    server = await startTestServer({ LLM_BASE_URL: llm.url, LLM_MODEL: 'fake-model', TOOLS_REQUIRING_APPROVAL: 'journey.extract_workflow' });
    token = await tokenFor('llm-approver');
  });
  afterAll(async () => {
    await server?.close();
    await llm?.close();
  });

  /** Sends a message that makes the model call its tool, answers the approval with `answer`, and follows the run to its end. */
  async function approveWith(text: string, answer: Record<string, unknown>) {
    const sent = await send(server.url, token, { text, target: JOURNEY });
    const client = wsClient(server.url, token);
    try {
      const recorder = new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
      const asked = await recorder.until((events) => events.some((event) => event.__typename === 'AgentInputRequested'), 'the approval');
      const request = asked.find((event) => event.__typename === 'AgentInputRequested')!.request;
      expect(request).toMatchObject({ kind: 'APPROVAL', toolName: 'journey.extract_workflow', arguments: { name: 'message' } });
      const before = llm.requests.length;
      const response = await userClient(server.url, token)(RESPOND, { input: { requestId: request.id, ...answer } });
      expect(response.errors).toBeUndefined();
      const events = (await recorder.until((received) => received.some(isTerminal), 'the end')).filter((event) => event.runId === sent.runId);
      expectRunInvariants(events, sent);
      // The model was asked once more, after the answer, for the rest of the turn only.
      const after = llm.requests.slice(before) as ChatRequest[];
      expect(after).toHaveLength(1);
      return { events, request, toModel: after[0]!.body.messages };
    } finally {
      await client.dispose();
    }
  }

  it('runs an approved call and gives the model its result', async () => {
    const { events, request, toModel } = await approveWith('Use a tool on my process: approve it', { approved: true });
    expect(typesOf(events)).toContain('ToolExecuting');
    const completed = events.find((event) => event.__typename === 'ToolCompleted')!;
    expect(completed).toMatchObject({ toolCallId: request.toolCallId, toolError: null });
    const assistant = toModel.find((message) => message.role === 'assistant')!;
    expect(JSON.stringify(assistant)).toContain('extract_workflow');
    const toolMessage = toModel.at(-1)!;
    expect(toolMessage.role).toBe('tool');
    expect(JSON.parse(String(toolMessage.content))).toEqual(completed['result']);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentCompleted', message: { text: expect.stringMatching(/^I used the tool/) } });
  });

  it('gives the model the denial as the tool result, and never runs the tool', async () => {
    const { events, request, toModel } = await approveWith('Use a tool on my process: deny it', { approved: false, comment: 'Not on this one.' });
    expect(typesOf(events)).not.toContain('ToolExecuting');
    expect(events.find((event) => event.__typename === 'ToolCompleted')).toMatchObject({
      toolCallId: request.toolCallId,
      toolError: { code: 'TOOL_DENIED', message: 'Not on this one.' },
    });
    const toolMessage = toModel.at(-1)!;
    expect(toolMessage.role).toBe('tool');
    expect(JSON.parse(String(toolMessage.content))).toEqual({ denied: true, reason: 'Not on this one.' });
    expect(events.at(-1)?.__typename).toBe('AgentCompleted');
  });
});
