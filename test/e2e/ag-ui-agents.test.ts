/**
 * Remote agents over AG-UI (REMOTE_AGENTS), through graphql-ws, in every topology. A local AG-UI
 * server (events encoded with @ag-ui/encoder) stands in for the agent running elsewhere, and
 * sees what the gateway sends it and when it abandons a request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { SEND, tokenFor, userClient, type AgentEvent } from '../support/clients.ts';
import { startFakeAgUi, type FakeAgUi } from '../support/fake-ag-ui.ts';
import { expectResumedRest, expectRunInvariants, send, sendAndFollow, seqAfterFirstToken, typesOf } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const REMOTE = { kind: 'LIAISON', agentId: 'remote.research' };
const CANCEL = `mutation ($runId: ID!) { cancelAgentRun(runId: $runId) { status } }`;

describe('AG-UI agents', () => {
  let remote: FakeAgUi;
  let server: RunningServer;
  let token: string;
  const failureOf = (events: AgentEvent[]) => events.at(-1)?.['error'];

  beforeAll(async () => {
    remote = await startFakeAgUi();
    const agents = [
      {
        id: 'remote.research',
        name: 'Research',
        description: 'Runs elsewhere.',
        pillar: 'INSIGHTS',
        url: remote.url,
        headers: { authorization: 'Bearer remote-key' },
      },
    ];
    server = await startTestServer({ REMOTE_AGENTS: JSON.stringify(agents) });
    token = await tokenFor('ag-ui-user');
  });
  afterAll(async () => {
    await server?.close();
    await remote?.close();
  });

  it('is listed with the registry', async () => {
    const { data } = await userClient(server.url, token)(`{ agents { id kind pillar name description } }`);
    expect(data.agents).toContainEqual({ id: 'remote.research', kind: 'LIAISON', pillar: 'INSIGHTS', name: 'Research', description: 'Runs elsewhere.' });
  });

  it("turns the remote run's events into the run's: thinking, a tool-call pair, tokens joined into the reply", async () => {
    const context = { files: [{ name: 'a.csv', content: 'x\n1' }] };
    const { sent, events } = await sendAndFollow(server.url, token, { text: 'Research this', target: REMOTE, surface: 'INSIGHTS', projectId: 'p-1', context });
    expectRunInvariants(events, sent);
    expect(typesOf(events)).toEqual([
      'MessageCreated',
      'AgentStarted',
      'AgentThinking',
      'ToolExecuting',
      'ToolCompleted',
      'AgentToken',
      'AgentToken',
      'AgentToken',
      'AgentCompleted',
    ]);
    expect(events[2]?.['text']).toBe('Looking it up.');
    expect(events[3]).toMatchObject({ toolCallId: `${sent.runId}:tc1`, toolName: 'search', arguments: { query: 'sales' } });
    expect(events[4]).toMatchObject({ toolCallId: `${sent.runId}:tc1`, toolName: 'search', result: { hits: 3 }, toolError: null });
    expect(events.at(-1)?.['message']).toMatchObject({ text: 'Remote answer to 1 message(s).', agentId: 'remote.research' });

    const request = remote.requests.at(-1)!;
    expect(request.headers['authorization']).toBe('Bearer remote-key');
    expect(request.body).toMatchObject({
      threadId: sent.conversationId,
      runId: sent.runId,
      messages: [{ role: 'user', content: 'Research this' }],
      forwardedProps: { surface: 'INSIGHTS', projectId: 'p-1', context },
    });
  });

  it('sends the whole history, whichever agent wrote it', async () => {
    const first = await sendAndFollow(server.url, token, { text: 'Hello' });
    const { events } = await sendAndFollow(server.url, token, { text: 'And now?', target: REMOTE, conversationId: first.sent.conversationId });
    expect(remote.requests.at(-1)?.body.messages.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(events.at(-1)?.['message'].text).toBe('Remote answer to 3 message(s).');
  });

  it.each([
    ['fail', { code: 'QUOTA_EXCEEDED', message: 'The remote quota is used up.', retryable: false }],
    ['fail quietly', { code: 'REMOTE_AGENT_ERROR', retryable: false }],
    ['cut', { code: 'UNAVAILABLE', retryable: true }],
    ['short', { code: 'UNAVAILABLE', retryable: true }],
    ['status 503', { code: 'UNAVAILABLE', retryable: true }],
    ['status 403', { code: 'REMOTE_AGENT_ERROR', retryable: false }],
  ])('ends "%s" with AgentFailed %o', async (text, error) => {
    const { sent, events } = await sendAndFollow(server.url, token, { text, target: REMOTE });
    expectRunInvariants(events, sent);
    expect(failureOf(events)).toMatchObject(error);
  });

  it('aborts the request to the remote agent on cancel, and a resumed subscription gets exactly the rest', async () => {
    const sent = await send(server.url, token, { text: 'hang on', target: REMOTE });
    const lastSeen = await seqAfterFirstToken(server.url, token, sent);
    const abort = remote.nextAbort();
    await userClient(server.url, token)(CANCEL, { runId: sent.runId });
    expect((await abort).body.runId).toBe(sent.runId);
    const whole = await expectResumedRest(server.url, token, sent, lastSeen);
    expect(whole.at(-1)?.__typename).toBe('AgentCancelled');
  });

  it('does not call the remote agent again for a repeated clientMessageId', async () => {
    const input = { text: 'Once only', target: REMOTE, clientMessageId: 'ag-ui-once' };
    const { sent } = await sendAndFollow(server.url, token, input);
    const calls = remote.requests.length;
    expect((await userClient(server.url, token)(SEND, { input })).data.sendAgentMessage.run.id).toBe(sent.runId);
    expect(remote.requests.length).toBe(calls);
  });
});
