/**
 * The AG-UI endpoint through `@ag-ui/client`'s HttpAgent (whose runAgent holds a stream to the
 * protocol) and through raw SSE where ids matter: the same run as GraphQL shows it, every
 * event valid by @ag-ui/core's own schemas, re-posts that start nothing, resume after
 * Last-Event-ID, interrupts answered by resume, and refusals that store nothing.
 */
import { randomUUID } from 'node:crypto';
import { HttpAgent } from '@ag-ui/client';
import { EventType, type BaseEvent, type RunAgentInput } from '@ag-ui/core';
import { EventSchemas } from '@ag-ui/core/schemas';
import { AGUI_MEDIA_TYPE, decode } from '@ag-ui/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { SALES_CSV } from '../clients/whole-run.ts';
import { tokenFor, userClient, type AgentEvent } from '../support/clients.ts';
import { metricValue } from '../support/metrics.ts';
import { HITL_TOOLS, approver, executions } from '../support/hitl-agents.ts';
import { followRun, type SentRun } from '../support/runs.ts';
import { SHARED_TOPOLOGY, sameDeploymentAs, startTestServer } from '../support/server.ts';
import { readSse } from '../support/sse.ts';

type AgEvent = BaseEvent & Record<string, any>;

const RUNS = `query ($id: ID!) { conversation(id: $id) { runs(last: 10) { id status } } }`;

function inputOf(threadId: string, text: string, extra: Partial<RunAgentInput> = {}): RunAgentInput {
  return {
    threadId,
    runId: randomUUID(),
    messages: [{ id: `message-${randomUUID()}`, role: 'user', content: text }],
    tools: [],
    context: [],
    state: {},
    forwardedProps: {},
    ...extra,
  };
}

const insightsInput = (threadId: string) =>
  inputOf(threadId, 'What trends are in this data?', {
    forwardedProps: { surface: 'INSIGHTS', context: { files: [{ name: 'sales.csv', content: SALES_CSV }] } },
  });

/** Posts `input` and reads the SSE stream to its end: each AG-UI event with the id its message carried. */
async function postRaw(url: string, token: string | null, input: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(token && { authorization: `Bearer ${token}` }), ...headers },
    body: JSON.stringify(input),
  });
  if (!response.ok) return { status: response.status, body: await response.json(), events: [] as { event: AgEvent; id?: string }[] };
  const events: { event: AgEvent; id?: string }[] = [];
  for await (const message of readSse(response.body!)) events.push({ event: JSON.parse(message.data), ...(message.id !== undefined && { id: message.id }) });
  return { status: response.status, body: null, events };
}

/** Runs `input` through HttpAgent's runAgent, which verifies the stream, collecting its events. */
async function runWithClient(url: string, token: string, input: RunAgentInput) {
  const agent = new HttpAgent({ url, headers: { authorization: `Bearer ${token}` }, threadId: input.threadId, initialMessages: input.messages });
  const events: AgEvent[] = [];
  await agent.runAgent(
    { runId: input.runId, forwardedProps: input.forwardedProps, tools: input.tools, ...(input.resume && { resume: input.resume }) },
    { onEvent: ({ event }) => void events.push(event as AgEvent) },
  );
  return { agent, events };
}

function expectValidEvents(events: readonly AgEvent[]) {
  for (const event of events) expect(EventSchemas.safeParse(event).success, JSON.stringify(event)).toBe(true);
}

const textOf = (events: readonly AgEvent[]) =>
  events
    .filter((event) => event.type === EventType.TEXT_MESSAGE_CONTENT)
    .map((event) => event['delta'])
    .join('');

describe('the AG-UI endpoint', () => {
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({}, { agents: [approver], tools: HITL_TOOLS });
    token = await tokenFor('ag-ui-user');
  });
  afterAll(() => server.close());

  const endpoint = (path = '/ag-ui', on = server) => `${on.url}${path}`;

  it('streams a run as GraphQL shows it: the same text, tool calls and end, each event valid AG-UI', async () => {
    const threadId = `agui-${randomUUID()}`;
    const delivered = () => metricValue(server.url, 'agent_gateway_events_delivered_total', { protocol: 'ag-ui' });
    const before = await delivered();
    const { events } = await runWithClient(endpoint(), token, insightsInput(threadId));
    expectValidEvents(events);
    expect(events[0]).toMatchObject({ type: EventType.RUN_STARTED, threadId });
    expect(events.at(-1)).toMatchObject({ type: EventType.RUN_FINISHED, threadId, outcome: { type: 'success' } });
    const runId = events[0]!['runId'] as string;

    const graphql = await followRun(server.url, token, { conversationId: threadId, runId, afterSeq: 0 } as SentRun);
    const ours = (type: string) => graphql.filter((event: AgentEvent) => event.__typename === type);
    expect(textOf(events)).toBe(
      ours('AgentToken')
        .map((event) => event['delta'])
        .join(''),
    );
    expect(textOf(events).length).toBeGreaterThan(0);
    const calls = events.filter((event) => event.type === EventType.TOOL_CALL_START).map((event) => [event['toolCallId'], event['toolCallName']]);
    expect(calls).toEqual(ours('ToolExecuting').map((event) => [event['toolCallId'], event['toolName']]));
    expect(calls.length).toBeGreaterThan(0);
    const results = events.filter((event) => event.type === EventType.TOOL_CALL_RESULT).map((event) => event['toolCallId']);
    expect(results).toEqual(ours('ToolCompleted').map((event) => event['toolCallId']));
    expect(ours('AgentCompleted')).toHaveLength(1);
    // Counted under its protocol, every event of the run (its user message's too); the stream is closed.
    expect(await delivered()).toBe(before + graphql.length);
    expect(await metricValue(server.url, 'agent_gateway_active_subscriptions', { protocol: 'ag-ui' })).toBe(0);
    // Each agent's part is a step of its name.
    expect(events.find((event) => event.type === EventType.STEP_STARTED)?.['stepName']).toBe(
      graphql.find((event) => event.__typename === 'AgentStarted')?.agentId,
    );
  });

  it('gives every event group the seq of its event, and resumes after Last-Event-ID with the rest exactly once', async () => {
    const threadId = `agui-${randomUUID()}`;
    const input = insightsInput(threadId);
    const whole = await postRaw(endpoint(), token, input);
    expect(whole.status).toBe(200);
    const ids = whole.events.filter((entry) => entry.id !== undefined).map((entry) => Number(entry.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    // The last AG-UI event of a group carries its seq: the stream ends on the terminal's.
    expect(whole.events.at(-1)!.id).toBeDefined();

    // Cut after a token in the middle of the answer's text.
    const tokens = whole.events.filter((entry) => entry.event.type === EventType.TEXT_MESSAGE_CONTENT && entry.id !== undefined);
    expect(tokens.length).toBeGreaterThan(2);
    const cut = tokens[1]!;
    const rest = await postRaw(endpoint(), token, input, { 'last-event-id': cut.id! });
    expectValidEvents(rest.events.map((entry) => entry.event));
    const prelude = rest.events.slice(0, 2).map((entry) => entry.event);
    // RUN_STARTED, then the message that was open re-opened, as a strict client needs.
    expect(prelude[0]).toMatchObject({ type: EventType.RUN_STARTED, runId: whole.events[0]!.event['runId'] });
    const open = rest.events.find((entry) => entry.event.type === EventType.TEXT_MESSAGE_START)!.event;
    expect(open['messageId']).toBe(cut.event['messageId']);
    const after = whole.events.slice(whole.events.indexOf(cut) + 1);
    const tail = rest.events.slice(rest.events.findIndex((entry) => entry.event === open) + 1);
    expect(tail).toEqual(after);
  });

  it('starts nothing when the same input is posted again, and streams that run again', async () => {
    const threadId = `agui-${randomUUID()}`;
    const input = insightsInput(threadId);
    const first = await postRaw(endpoint(), token, input);
    const again = await postRaw(endpoint(), token, { ...input, runId: randomUUID() });
    expect(again.events.map((entry) => entry.event)).toEqual(first.events.map((entry) => entry.event));
    const runs = await userClient(server.url, token)(RUNS, { id: threadId });
    expect(runs.data.conversation.runs).toHaveLength(1);
  });

  it('ends a run that asks with an interrupt, which resume answers: the run goes on from its pause', async () => {
    const threadId = `agui-${randomUUID()}`;
    const asked = await runWithClient(endpoint(`/ag-ui/${approver.id}`), token, inputOf(threadId, 'question'));
    expectValidEvents(asked.events);
    const finished = asked.events.at(-1)!;
    expect(finished).toMatchObject({ type: EventType.RUN_FINISHED, outcome: { type: 'interrupt' } });
    const [interrupt] = finished['outcome'].interrupts;
    expect(interrupt).toMatchObject({ reason: 'question', message: 'Which color?', metadata: { options: ['red', 'blue'] } });

    const resumed = await runWithClient(endpoint(`/ag-ui/${approver.id}`), token, {
      ...inputOf(threadId, 'question'),
      messages: asked.agent.messages,
      resume: [{ interruptId: interrupt.id, status: 'resolved', payload: 'red' }],
    });
    expectValidEvents(resumed.events);
    expect(resumed.events[0]).toMatchObject({ type: EventType.RUN_STARTED, runId: finished['runId'] });
    expect(textOf(resumed.events)).toBe('You chose red.');
    expect(resumed.events.at(-1)).toMatchObject({ type: EventType.RUN_FINISHED, outcome: { type: 'success' } });
    // Nothing before the pause came again.
    expect(resumed.events.filter((event) => event.type.startsWith('REASONING'))).toEqual([]);
  });

  it('answers an approval through resume on another instance, and the tool runs once', async () => {
    const threadId = `agui-${randomUUID()}`;
    const ref = `agui-${randomUUID()}`;
    const second = SHARED_TOPOLOGY ? await startTestServer({ ...sameDeploymentAs(server) }, { agents: [approver], tools: HITL_TOOLS }) : server;
    try {
      const asked = await postRaw(endpoint(`/ag-ui/${approver.id}`), token, inputOf(threadId, `transfer ${ref}`));
      const [interrupt] = asked.events.at(-1)!.event['outcome'].interrupts;
      expect(interrupt).toMatchObject({ reason: 'approval', metadata: { toolName: 'test.transfer', arguments: { ref, amount: 5 } } });
      const resumed = await postRaw(endpoint(`/ag-ui/${approver.id}`, second), token, {
        ...inputOf(threadId, 'ignored'),
        resume: [{ interruptId: interrupt.id, status: 'resolved', payload: { approved: true } }],
      });
      const events = resumed.events.map((entry) => entry.event);
      expectValidEvents(events);
      expect(events.find((event) => event.type === EventType.TOOL_CALL_RESULT)?.['content']).toBe(JSON.stringify({ transferred: 5 }));
      expect(textOf(events)).toBe('Transferred 5.');
      expect(executions.get(`test.transfer ${ref}`)).toBe(1);
    } finally {
      if (second !== server) await second.close();
    }
  });

  it("offers the input's tools to the agent: a call of one is shown as a tool call, and a tool message answers it", async () => {
    const threadId = `agui-${randomUUID()}`;
    const tools = [
      { name: 'confirmTheme', description: 'Asks the user for a theme.', parameters: { type: 'object', properties: { reason: { type: 'string' } } } },
    ];
    const first = inputOf(threadId, 'frontend confirmTheme', { tools });
    const asked = await runWithClient(endpoint(`/ag-ui/${approver.id}`), token, first);
    expectValidEvents(asked.events);
    const call = asked.events.find((event) => event.type === EventType.TOOL_CALL_START)!;
    expect(call['toolCallName']).toBe('confirmTheme');
    expect(asked.events.find((event) => event.type === EventType.TOOL_CALL_ARGS)?.['delta']).toBe(JSON.stringify({ reason: 'asked' }));
    expect(asked.events.at(-1)).toMatchObject({ outcome: { type: 'interrupt', interrupts: [{ reason: 'client_tool', toolCallId: call['toolCallId'] }] } });

    const answered = await postRaw(endpoint(`/ag-ui/${approver.id}`), token, {
      ...first,
      runId: randomUUID(),
      messages: [...first.messages, { id: `result-${randomUUID()}`, role: 'tool', toolCallId: call['toolCallId'], content: '"dark"' }],
    });
    const events = answered.events.map((entry) => entry.event);
    expectValidEvents(events);
    expect(events.filter((event) => event.type === EventType.TOOL_CALL_START)).toEqual([]);
    expect(events.find((event) => event.type === EventType.TOOL_CALL_RESULT)).toMatchObject({ toolCallId: call['toolCallId'], content: '"dark"' });
    expect(textOf(events)).toBe('The frontend said "dark".');
  });

  it('answers in protobuf when the client asks for it, the same events as over SSE', async () => {
    const input = insightsInput(`agui-${randomUUID()}`);
    const sse = await postRaw(endpoint(), token, input);
    const response = await fetch(endpoint(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: AGUI_MEDIA_TYPE, authorization: `Bearer ${token}` },
      body: JSON.stringify(input),
    });
    expect(response.headers.get('content-type')).toBe(AGUI_MEDIA_TYPE);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const decoded: AgEvent[] = [];
    // Each message is prefixed with its length, 4 bytes big-endian.
    for (let offset = 0; offset < bytes.length;) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + offset, 4).getUint32(0, false);
      decoded.push(decode(bytes.subarray(offset + 4, offset + 4 + length)) as AgEvent);
      offset += 4 + length;
    }
    expect(decoded.map((event) => event.type)).toEqual(sse.events.map((entry) => entry.event.type));
    expect(textOf(decoded)).toBe(textOf(sse.events.map((entry) => entry.event)));
  });

  it('lets pages of the allowed origins call it, as /graphql does', async () => {
    const allowing = await startTestServer({ CORS_ALLOWED_ORIGINS: 'https://app.example' });
    try {
      const preflight = await fetch(`${allowing.url}/ag-ui`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
      const other = await fetch(`${allowing.url}/ag-ui`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await allowing.close();
    }
  });

  it('refuses bad input in its own form and stores nothing', async () => {
    const threadId = `agui-${randomUUID()}`;
    const conversation = async () =>
      (await userClient(server.url, token)(`query ($id: ID!) { conversation(id: $id) { id } }`, { id: threadId })).data.conversation;

    const malformed = await postRaw(endpoint(), token, { threadId, messages: 'not a list' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('BAD_USER_INPUT');

    const notJson = await fetch(endpoint(), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error.code).toBe('BAD_USER_INPUT');

    const unknownAgent = await postRaw(endpoint('/ag-ui/no-such-agent'), token, inputOf(threadId, 'hello'));
    expect(unknownAgent.status).toBe(400);
    expect(unknownAgent.body.error.code).toBe('BAD_USER_INPUT');

    const badTool = await postRaw(
      endpoint(),
      token,
      inputOf(threadId, 'hello', { tools: [{ name: 'no spaces allowed', description: '', parameters: { type: 'object' } }] }),
    );
    expect(badTool.status).toBe(400);
    expect(badTool.body.error.code).toBe('BAD_USER_INPUT');

    const noUserMessage = await postRaw(endpoint(), token, { ...inputOf(threadId, 'x'), messages: [{ id: 'a', role: 'assistant', content: 'hi' }] });
    expect(noUserMessage.body.error.code).toBe('BAD_USER_INPUT');

    const anonymous = await postRaw(endpoint(), null, inputOf(threadId, 'hello'));
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('UNAUTHENTICATED');

    expect(await conversation()).toBeNull();
  });

  it("keeps users apart: someone else's thread is not found, for a send and for a resume", async () => {
    const threadId = `agui-${randomUUID()}`;
    const input = insightsInput(threadId);
    await postRaw(endpoint(), token, input);
    const other = await tokenFor('ag-ui-someone-else');
    const repost = await postRaw(endpoint(), other, input);
    expect(repost.status).toBe(404);
    expect(repost.body.error.code).toBe('NOT_FOUND');
    const resume = await postRaw(endpoint(), other, { ...input, resume: [{ interruptId: 'whatever', status: 'resolved', payload: 1 }] });
    expect(resume.status).toBe(404);
  });
});
