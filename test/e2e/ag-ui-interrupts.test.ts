/**
 * Human in the loop with remote AG-UI agents, in every topology: the remote's interrupts
 * (RUN_FINISHED with an interrupt outcome) become input requests whose answers go back in
 * RunAgentInput.resume, and the gateway's client tools are offered in RunAgentInput.tools, a
 * remote's call of one becoming a CLIENT_TOOL request whose answer goes back as its result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, isTerminal, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { startFakeAgUi, type FakeAgUi } from '../support/fake-ag-ui.ts';
import { HITL_TOOLS } from '../support/hitl-agents.ts';
import { expectRunInvariants, send, type SentRun } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const REMOTE = { kind: 'LIAISON', agentId: 'remote.shop' };
const RESPOND = `mutation ($input: RespondToAgentInput!) { respondToAgent(input: $input) { status } }`;
const PENDING = `query ($id: ID!) { conversation(id: $id) { pendingInputs { id kind prompt toolName toolCallId arguments answerSchema } } }`;

describe('AG-UI agents in the loop', () => {
  let remote: FakeAgUi;
  let server: RunningServer;
  let token: string;
  let gql: ReturnType<typeof userClient>;

  beforeAll(async () => {
    remote = await startFakeAgUi();
    server = await startTestServer(
      { REMOTE_AGENTS: JSON.stringify([{ id: 'remote.shop', name: 'Shop', description: 'Orders things elsewhere.', url: remote.url }]) },
      { tools: HITL_TOOLS },
    );
    token = await tokenFor('ag-ui-loop');
    gql = userClient(server.url, token);
  });
  afterAll(async () => {
    await server?.close();
    await remote?.close();
  });

  async function follow(text: string) {
    const sent = await send(server.url, token, { text, target: REMOTE });
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
    const requests = async (count: number) =>
      (await recorder.until((events) => events.filter((event) => event.__typename === 'AgentInputRequested').length >= count, `${count} request(s)`))
        .filter((event) => event.__typename === 'AgentInputRequested')
        .map((event) => event.request);
    const end = async (run: SentRun) => (await recorder.until((events) => events.some(isTerminal), 'the end')).filter((event) => event.runId === run.runId);
    return { sent, requests, end, close: () => client.dispose() };
  }

  it("asks a person each of the remote's interrupts and resumes the remote with the answers", async () => {
    const { sent, requests, end, close } = await follow('interrupt please');
    try {
      const [order, note] = await requests(2);
      expect(order).toMatchObject({
        kind: 'QUESTION',
        prompt: 'Place the order?',
        answerSchema: { required: ['ok'] },
        arguments: { interruptId: 'int-order' },
      });
      expect(note).toMatchObject({ kind: 'QUESTION', prompt: 'Any note for the courier?', arguments: { interruptId: 'int-note' } });
      const before = remote.requests.length;
      expect((await gql(RESPOND, { input: { requestId: order.id, answer: { ok: true } } })).errors).toBeUndefined();
      // One answer of two: the run still waits, and the remote is not called.
      expect((await gql(PENDING, { id: sent.conversationId })).data.conversation.pendingInputs.map((r: { id: string }) => r.id)).toEqual([note.id]);
      expect((await gql(RESPOND, { input: { requestId: note.id, answer: 'Ring twice.' } })).errors).toBeUndefined();
      const events = await end(sent);
      expectRunInvariants(events, sent);
      const resumed = remote.requests.slice(before);
      expect(resumed).toHaveLength(1);
      expect(resumed[0]!.body.resume).toEqual([
        { interruptId: 'int-order', status: 'resolved', payload: { ok: true } },
        { interruptId: 'int-note', status: 'resolved', payload: 'Ring twice.' },
      ]);
      expect(events.at(-1)).toMatchObject({
        __typename: 'AgentCompleted',
        message: { text: 'Before I go on, Resumed with int-order={"ok":true}, int-note="Ring twice.".' },
      });
    } finally {
      await close();
    }
  });

  it("keeps a remote tool call open across the pause: its result comes once resumed, or the run's end closes it", async () => {
    const answered = await follow('interrupt mid-tool');
    try {
      const requests = await answered.requests(2);
      for (const [request, answer] of [
        [requests[0], { ok: false }],
        [requests[1], 'none'],
      ] as const) {
        await gql(RESPOND, { input: { requestId: request.id, answer } });
      }
      const events = await answered.end(answered.sent);
      expectRunInvariants(events, answered.sent);
      const completed = events.filter((event) => event.__typename === 'ToolCompleted');
      expect(completed).toHaveLength(1);
      expect(completed[0]).toMatchObject({ toolName: 'search', result: { found: 1 }, toolError: null });
      expect(events.indexOf(completed[0]!)).toBeGreaterThan(events.findIndex((event) => event.__typename === 'AgentInputReceived'));
    } finally {
      await answered.close();
    }
    const cancelled = await follow('interrupt mid-tool');
    try {
      await cancelled.requests(2);
      await gql(`mutation ($id: ID!) { cancelAgentRun(runId: $id) { status } }`, { id: cancelled.sent.runId });
      const events = await cancelled.end(cancelled.sent);
      expectRunInvariants(events, cancelled.sent);
      expect(events.find((event) => event.__typename === 'ToolCompleted')).toMatchObject({ toolName: 'search', toolError: { code: 'CANCELLED' } });
      expect(events.at(-1)?.__typename).toBe('AgentCancelled');
    } finally {
      await cancelled.close();
    }
  });

  it('offers the client tools to the remote and hands its call of one to the frontend', async () => {
    const { sent, requests, end, close } = await follow('use a client tool');
    try {
      const offered = remote.requests.at(-1)!.body.tools;
      expect(offered.map((tool) => tool.name)).toEqual(['test.locate']);
      const [call] = await requests(1);
      expect(call).toMatchObject({ kind: 'CLIENT_TOOL', toolName: 'test.locate', arguments: { precision: 'city' } });
      await gql(RESPOND, { input: { requestId: call.id, answer: { city: 'Porto' } } });
      const events = await end(sent);
      expectRunInvariants(events, sent);
      expect(events.find((event) => event.__typename === 'ToolCompleted')).toMatchObject({ toolCallId: call.toolCallId, result: { city: 'Porto' } });
      const resumed = remote.requests.at(-1)!.body;
      expect(resumed.messages.at(-1)).toMatchObject({ role: 'tool', toolCallId: 'ct1', content: '{"city":"Porto"}' });
      expect(events.at(-1)).toMatchObject({ __typename: 'AgentCompleted', message: { text: 'The client said {"city":"Porto"}.' } });
    } finally {
      await close();
    }
  });
});
