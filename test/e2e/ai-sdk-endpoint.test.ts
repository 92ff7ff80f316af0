/**
 * The AI SDK endpoint through the AI SDK's own client: its chat (AbstractChat, what `useChat`
 * runs) and DefaultChatTransport, and raw fetches read with its parseJsonEventStream and
 * uiMessageChunkSchema where the wire matters. The same run as GraphQL shows it, re-posts that
 * start nothing, the resume of an active run, approvals, client tools and questions answered
 * through the next post, and refusals that store nothing.
 */
import { randomUUID } from 'node:crypto';
import {
  DefaultChatTransport,
  isToolUIPart,
  lastAssistantMessageIsCompleteWithToolCalls as waitingForClientTools,
  parseJsonEventStream,
  readUIMessageStream,
  uiMessageChunkSchema,
  type UIMessage,
  type UIMessageChunk,
} from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import type { ToolDefinition } from '../../src/runtime/tools.ts';
import type { RunningServer } from '../../src/server.ts';
import { SALES_CSV } from '../clients/whole-run.ts';
import { TestChat, textOf } from '../support/ai-sdk-chat.ts';
import { tokenFor, userClient, type AgentEvent } from '../support/clients.ts';
import { HITL_TOOLS, approver, executions } from '../support/hitl-agents.ts';
import { metricValue } from '../support/metrics.ts';
import { followRun, send, type SentRun } from '../support/runs.ts';
import { SHARED_TOPOLOGY, sameDeploymentAs, startTestServer } from '../support/server.ts';

const RUNS = `query ($id: ID!) { conversation(id: $id) { runs(last: 10) { id status } } }`;
const ORIGIN = 'https://app.example';

/** A tool that runs until the test opens its gate: a run that stays active as long as the test needs. */
let openGate!: () => void;
const gateOpened = new Promise<void>((resolve) => (openGate = resolve));
const GATE: ToolDefinition = {
  name: 'test.gate',
  description: 'Waits until the test opens it.',
  inputSchema: { type: 'object', properties: {} },
  execute: async () => {
    await gateOpened;
    return { opened: true };
  },
};
const gated: AgentDefinition = {
  id: 'test.gated',
  kind: 'LIAISON',
  pillar: null,
  name: 'Gated',
  description: 'Waits at a gate the test opens.',
  async run(context) {
    await context.say('Waiting at the gate.');
    await context.callTool('test.gate', {});
    await context.say('Through the gate.');
  },
};

function userMessage(text: string): UIMessage {
  return { id: `message-${randomUUID()}`, role: 'user', parts: [{ type: 'text', text }] };
}

/** What DefaultChatTransport posts for a new message, with `extra` as its `body` option adds it. */
function chatRequest(chatId: string, text: string, extra: Record<string, unknown> = {}) {
  return { ...extra, id: chatId, messages: [userMessage(text)], trigger: 'submit-message', messageId: undefined };
}

const QUESTION = 'What trends are in this data?';
const SALES_FILES = { files: [{ name: 'sales.csv', content: SALES_CSV }] };
const dataRequest = (chatId: string) => chatRequest(chatId, QUESTION, { context: SALES_FILES });
/** The same, the file attached as useChat's sendMessage({text, files}) attaches it. */
function fileRequest(chatId: string) {
  const url = `data:text/csv;base64,${Buffer.from(SALES_CSV).toString('base64')}`;
  const message: UIMessage = {
    id: `message-${randomUUID()}`,
    role: 'user',
    parts: [
      { type: 'file', mediaType: 'text/csv', filename: 'sales.csv', url },
      { type: 'text', text: QUESTION },
    ],
  };
  return { id: chatId, messages: [message], trigger: 'submit-message' };
}

/** The chunks of one UI message stream, each checked by the AI SDK's own schema. */
async function chunksOf(stream: ReadableStream<Uint8Array>): Promise<UIMessageChunk[]> {
  const chunks: UIMessageChunk[] = [];
  const reader = parseJsonEventStream({ stream, schema: uiMessageChunkSchema }).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    expect(value.success, JSON.stringify(value)).toBe(true);
    if (value.success) chunks.push(value.value);
  }
}

/** Reads a transport's stream of chunks until `until` holds for one, or to its end. */
async function readUntil(stream: ReadableStream<UIMessageChunk>, until: (chunk: UIMessageChunk) => boolean = () => false) {
  const chunks: UIMessageChunk[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
    if (until(value)) {
      reader.releaseLock();
      return chunks;
    }
  }
}

const ofType = <T extends UIMessageChunk['type']>(chunks: readonly UIMessageChunk[], type: T) =>
  chunks.filter((chunk): chunk is Extract<UIMessageChunk, { type: T }> => chunk.type === type);
const textIn = (chunks: readonly UIMessageChunk[]) =>
  ofType(chunks, 'text-delta')
    .map((chunk) => chunk.delta)
    .join('');

describe('the AI SDK endpoint', () => {
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({ CORS_ALLOWED_ORIGINS: ORIGIN }, { agents: [approver, gated], tools: [...HITL_TOOLS, GATE] });
    token = await tokenFor('ai-sdk-user');
  });
  afterAll(() => server.close());

  const api = (path = '/ai-sdk/chat') => `${server.url}${path}`;

  /** Posts `body` as DefaultChatTransport does; the stream's chunks, or the error the post got. */
  async function post(body: unknown, as: string | null = token) {
    const response = await fetch(api(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(as !== null && { authorization: `Bearer ${as}` }) },
      body: JSON.stringify(body),
    });
    if (response.status !== 200) return { status: response.status, error: (await response.json()).error, chunks: [], wire: '' };
    expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    const wire = await response.text();
    return { status: 200, error: null, chunks: await chunksOf(new Response(wire).body!), wire };
  }

  const runsOf = async (chatId: string) => (await userClient(server.url, token)(RUNS, { id: chatId })).data.conversation?.runs ?? null;

  it('streams a run as GraphQL shows it: the same text, tools, data and end, each chunk valid by the AI SDK', async () => {
    const chatId = `aisdk-${randomUUID()}`;
    const delivered = () => metricValue(server.url, 'agent_gateway_events_delivered_total', { protocol: 'ai-sdk' });
    const before = await delivered();
    const { chunks, wire } = await post(fileRequest(chatId));
    expect(wire.endsWith('data: [DONE]\n\n')).toBe(true);
    const [run] = await runsOf(chatId);
    expect(chunks[0]).toEqual({ type: 'start', messageId: run.id });
    const graphql = await followRun(server.url, token, { conversationId: chatId, runId: run.id, afterSeq: 0 } as SentRun);
    const ours = (type: string) => graphql.filter((event: AgentEvent) => event.__typename === type);

    expect(textIn(chunks)).toBe(
      ours('AgentToken')
        .map((event) => event['delta'])
        .join(''),
    );
    const calls = ofType(chunks, 'tool-input-available').map((chunk) => [chunk.toolCallId, chunk.toolName, chunk.input]);
    expect(calls).toEqual(ours('ToolExecuting').map((event) => [event['toolCallId'], event['toolName'], event['arguments']]));
    expect(calls[0]).toEqual([expect.any(String), 'insights.profile_csv', { name: 'sales.csv' }]);
    const outputs = ofType(chunks, 'tool-output-available').map((chunk) => [chunk.toolCallId, chunk.output]);
    expect(outputs).toEqual(ours('ToolCompleted').map((event) => [event['toolCallId'], event['result']]));
    expect(outputs[0]![1]).toMatchObject({ rowCount: 3 });
    const artifacts = chunks.filter((chunk) => chunk.type === 'data-artifact');
    expect(artifacts.map((chunk) => (chunk as { id: string }).id)).toEqual(ours('AgentArtifact').map((event) => event['artifactId']));
    expect(artifacts.length).toBeGreaterThan(0);
    const handoffs = chunks.filter((chunk) => chunk.type === 'data-handoff').map((chunk) => (chunk as { data: unknown }).data);
    expect(handoffs).toEqual(
      ours('AgentHandoff').map((event) => ({ fromAgentId: event['fromAgentId'], toAgentId: event['toAgentId'], reason: event['handoffReason'] })),
    );
    expect(handoffs.length).toBeGreaterThan(0);
    expect(ofType(chunks, 'reasoning-delta').map((chunk) => chunk.delta)).toEqual(ours('AgentThinking').map((event) => event['text']));
    const [completed] = ours('AgentCompleted');
    expect(chunks.at(-1)).toEqual({
      type: 'finish',
      finishReason: 'stop',
      messageMetadata: expect.objectContaining({ status: 'COMPLETED', agentMessageId: completed!['message'].id }),
    });

    // The AI SDK's reader makes one assistant message of it: the run's, with the agent's text.
    let message: UIMessage | undefined;
    for await (const state of readUIMessageStream({ stream: new ReadableStream({ start: (c) => (chunks.forEach((chunk) => c.enqueue(chunk)), c.close()) }) }))
      message = state;
    expect(message).toMatchObject({ id: run.id, role: 'assistant', metadata: { status: 'COMPLETED' } });
    expect(textOf(message!)).toBe(completed!['message'].text);
    // Its tools' results end steps: a client that sends automatically once its tools have run does not post it again.
    expect(waitingForClientTools({ messages: [message!] })).toBe(false);
    // Counted under its protocol, every event of the run; the stream is closed.
    expect(await delivered()).toBe(before + graphql.length);
    expect(await metricValue(server.url, 'agent_gateway_active_subscriptions', { protocol: 'ai-sdk' })).toBe(0);
  });

  it('starts nothing when the same body is posted again, and streams that run again', async () => {
    const chatId = `aisdk-${randomUUID()}`;
    const body = dataRequest(chatId);
    const first = await post(body);
    const again = await post(body);
    expect(again.chunks).toEqual(first.chunks);
    expect(first.chunks.at(-1)?.type).toBe('finish');
    expect(await runsOf(chatId)).toHaveLength(1);
  });

  it('ends a failed run with an error chunk that starts with its code, and a cancelled one with abort', async () => {
    const failing = await post(chatRequest(`aisdk-${randomUUID()}`, 'bad-question', { agentId: approver.id }));
    expect(failing.chunks.at(-1)).toEqual({ type: 'error', errorText: expect.stringMatching(/^INVALID_QUESTION: /) });
    // A tool's error is the tool part's, with its code too.
    const badCall = await post(chatRequest(`aisdk-${randomUUID()}`, 'lookup x many', { agentId: approver.id }));
    expect(ofType(badCall.chunks, 'tool-output-error')).toEqual([expect.objectContaining({ errorText: expect.stringMatching(/^INVALID_TOOL_INPUT: /) })]);

    const chatId = `aisdk-${randomUUID()}`;
    const body = chatRequest(chatId, 'question', { agentId: approver.id });
    await post(body);
    const [run] = await runsOf(chatId);
    const cancelled = await userClient(server.url, token)(`mutation ($id: ID!) { cancelAgentRun(runId: $id) { status } }`, { id: run.id });
    expect(cancelled.data.cancelAgentRun.status).toBe('CANCELLED');
    const graphql = await followRun(server.url, token, { conversationId: chatId, runId: run.id, afterSeq: 0 } as SentRun);
    const again = await post(body);
    expect(again.chunks.at(-1)).toEqual({ type: 'abort', reason: graphql.at(-1)!['reason'] });
  });

  it("resumes a chat's active run where the transport reconnects: the whole run, its rest as it comes", async () => {
    const chatId = `aisdk-${randomUUID()}`;
    const transport = new DefaultChatTransport({ api: api(), headers: { authorization: `Bearer ${token}` }, body: { agentId: gated.id } });
    expect(await transport.reconnectToStream({ chatId })).toBeNull();

    const cut = new AbortController();
    const sent = await transport.sendMessages({
      chatId,
      messages: [userMessage('go')],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: cut.signal,
    });
    const seen = await readUntil(sent, (chunk) => chunk.type === 'tool-input-available');
    // The client loses its stream while the run waits at the gate; the run goes on.
    cut.abort();

    const resumed = await transport.reconnectToStream({ chatId });
    const replayed = await readUntil(resumed!, (chunk) => chunk.type === 'tool-input-available');
    expect(replayed).toEqual(seen);
    openGate();
    const rest = await readUntil(resumed!);
    expect(rest.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
    expect(ofType(rest, 'tool-output-available')[0]).toMatchObject({ output: { opened: true } });
    expect(textIn([...replayed, ...rest])).toBe('Waiting at the gate.Through the gate.');
    // Nothing is active any more.
    expect(await transport.reconnectToStream({ chatId })).toBeNull();
  });

  it("asks for an approval as the AI SDK's tool approval, answered in the next post: the tool runs once", async () => {
    const ref = `aisdk-${randomUUID()}`;
    const posted: string[] = [];
    const recording: typeof fetch = (input, init) => (posted.push(String(init?.body)), fetch(input, init));
    const chat = new TestChat({ api: api(), token, body: { agentId: approver.id }, fetch: recording });
    await chat.sendMessage({ text: `transfer ${ref}` });
    const [run] = await runsOf(chat.id);
    expect(run.status).toBe('WAITING');
    const asked = chat.reply;
    expect(asked).toMatchObject({ id: run.id, metadata: { status: 'WAITING' } });
    const part = asked.parts.find(isToolUIPart)!;
    expect(part).toMatchObject({ type: 'tool-test.transfer', state: 'approval-requested', input: { ref, amount: 5 } });

    await chat.addToolApprovalResponse({ id: (part as { approval: { id: string } }).approval.id, approved: true });
    await chat.sendMessage();
    expect(chat.status).toBe('ready');
    expect(chat.messages).toHaveLength(2);
    const answered = chat.reply;
    expect(answered.id).toBe(run.id);
    expect(answered.parts.find(isToolUIPart)).toMatchObject({ state: 'output-available', output: { transferred: 5 }, approval: { approved: true } });
    expect(textOf(answered)).toBe('Transferred 5.');
    expect(executions.get(`test.transfer ${ref}`)).toBe(1);
    expect(await runsOf(chat.id)).toEqual([{ id: run.id, status: 'COMPLETED' }]);

    // The answering post again: the same rest of the run, and nothing runs or starts again.
    const again = await post(JSON.parse(posted.at(-1)!));
    expect(again.chunks[0]).toEqual({ type: 'start', messageId: run.id });
    expect(ofType(again.chunks, 'tool-output-available')).toEqual([expect.objectContaining({ output: { transferred: 5 } })]);
    expect(textIn(again.chunks)).toBe('Transferred 5.');
    expect(executions.get(`test.transfer ${ref}`)).toBe(1);
    expect(await runsOf(chat.id)).toHaveLength(1);
  });

  it('takes the answer to an approval through another instance of the deployment: the run goes on there, the tool runs once', async () => {
    const ref = `aisdk-${randomUUID()}`;
    const second = SHARED_TOPOLOGY
      ? await startTestServer({ ...sameDeploymentAs(server) }, { agents: [approver, gated], tools: [...HITL_TOOLS, GATE] })
      : server;
    try {
      let target = server.url;
      const reached: string[] = [];
      const routed: typeof fetch = (input, init) => (reached.push(target), fetch(String(input).replace(server.url, target), init));
      const chat = new TestChat({ api: api(), token, body: { agentId: approver.id }, fetch: routed });
      await chat.sendMessage({ text: `transfer ${ref}` });
      const part = chat.reply.parts.find(isToolUIPart) as { approval: { id: string } };
      target = second.url;
      await chat.addToolApprovalResponse({ id: part.approval.id, approved: true });
      await chat.sendMessage();
      expect(chat.status).toBe('ready');
      expect(reached).toEqual([server.url, second.url]);
      expect(textOf(chat.reply)).toBe('Transferred 5.');
      expect(executions.get(`test.transfer ${ref}`)).toBe(1);
      expect((await runsOf(chat.id)).map((run: { status: string }) => run.status)).toEqual(['COMPLETED']);
    } finally {
      if (second !== server) await second.close();
    }
  });

  it('denies an approval with its reason: the tool never runs, the agent goes on', async () => {
    const ref = `aisdk-${randomUUID()}`;
    const chat = new TestChat({ api: api(), token, body: { agentId: approver.id } });
    await chat.sendMessage({ text: `transfer ${ref}` });
    const part = chat.reply.parts.find(isToolUIPart) as { approval: { id: string } };
    await chat.addToolApprovalResponse({ id: part.approval.id, approved: false, reason: 'Not today.' });
    await chat.sendMessage();
    expect(chat.reply.parts.find(isToolUIPart)).toMatchObject({ state: 'output-denied', approval: { approved: false, reason: 'Not today.' } });
    expect(textOf(chat.reply)).toBe('Not transferred: Not today.');
    expect(executions.get(`test.transfer ${ref}`)).toBeUndefined();
  });

  it("hands a client tool's call to the client, whose output in the next post answers it", async () => {
    const calls: string[] = [];
    const chat = new TestChat({ api: api(), token, body: { agentId: approver.id }, onToolCall: ({ toolCall }) => void calls.push(toolCall.toolName) });
    await chat.sendMessage({ text: 'client' });
    expect(calls).toEqual(['test.locate']);
    const call = chat.reply.parts.find(isToolUIPart)!;
    expect(call).toMatchObject({ state: 'input-available' });
    expect(waitingForClientTools({ messages: chat.messages })).toBe(false);
    await chat.addToolOutput({ tool: 'test.locate', toolCallId: call.toolCallId, output: { city: 'Porto' } });
    // What `sendAutomaticallyWhen` would check, and then post.
    expect(waitingForClientTools({ messages: chat.messages })).toBe(true);
    await chat.sendMessage();
    expect(textOf(chat.reply)).toBe('You are in Porto.');
    expect(waitingForClientTools({ messages: chat.messages })).toBe(false);
    expect(chat.reply.parts.filter(isToolUIPart)).toHaveLength(1);
    expect((await runsOf(chat.id))[0].status).toBe('COMPLETED');

    // A client tool that fails answers with its error, which the agent is given as the result.
    const failing = new TestChat({ api: api(), token, body: { agentId: approver.id } });
    await failing.sendMessage({ text: 'client' });
    const failed = failing.reply.parts.find(isToolUIPart)!;
    await failing.addToolOutput({ tool: 'test.locate', toolCallId: failed.toolCallId, state: 'output-error', errorText: 'No location.' });
    await failing.sendMessage();
    expect(failing.reply.parts.find(isToolUIPart)).toMatchObject({ output: { error: 'No location.' } });
  });

  it('asks a question as a data part, answered by `answers` in the next post and updated in place', async () => {
    const chat = new TestChat({ api: api(), token, body: { agentId: approver.id } });
    await chat.sendMessage({ text: 'question' });
    const question = chat.reply.parts.find((part) => part.type === 'data-question') as { id: string; data: Record<string, unknown> };
    expect(question.data).toMatchObject({ requestId: question.id, prompt: 'Which color?', options: ['red', 'blue'] });

    const refused = await post({ id: chat.id, messages: chat.messages, answers: [{ requestId: question.id, answer: 'green' }] });
    expect(refused.error).toMatchObject({ code: 'BAD_USER_INPUT' });
    await chat.sendMessage(undefined, { body: { answers: [{ requestId: question.id, answer: 'red' }] } });
    expect(textOf(chat.reply)).toBe('You chose red.');
    const parts = chat.reply.parts.filter((part) => part.type === 'data-question');
    expect(parts).toEqual([{ type: 'data-question', id: question.id, data: expect.objectContaining({ answer: 'red' }) }]);
  });

  it("keeps users apart: 401 without a good token, someone else's chat is not found and its stream not there", async () => {
    const chatId = `aisdk-${randomUUID()}`;
    const body = chatRequest(chatId, 'question', { agentId: approver.id });
    expect((await post(body)).status).toBe(200);
    const other = await tokenFor('ai-sdk-someone-else');

    expect(await post(body, null)).toMatchObject({ status: 401, error: { code: 'UNAUTHENTICATED' } });
    expect(await post(body, await tokenFor('ai-sdk-user', { secret: 'another-secret-that-is-32-characters-long' }))).toMatchObject({ status: 401 });
    const anonymousResume = await fetch(api(`/ai-sdk/chat/${chatId}/stream`));
    expect(anonymousResume.status).toBe(401);

    const repost = await post(body, other);
    expect(repost).toMatchObject({ status: 404, error: { code: 'NOT_FOUND' } });
    // A continuation of it reads exactly as one of a chat that does not exist.
    const continued = { id: chatId, messages: [{ id: 'run-1', role: 'assistant', parts: [{ type: 'text', text: 'hi' }] }], answers: [] };
    const unknown = await post({ ...continued, id: `aisdk-${randomUUID()}` }, other);
    expect(await post(continued, other)).toEqual(unknown);
    // Its run waits (it is active), yet for someone else there is nothing to resume.
    const resume = (as: string, id = chatId) => fetch(api(`/ai-sdk/chat/${id}/stream`), { headers: { authorization: `Bearer ${as}` } });
    expect((await resume(token)).status).toBe(200);
    expect((await resume(other)).status).toBe(204);
    // The owner's next message may refuse to wait behind it: CONFLICT, and nothing stored.
    expect(await post(chatRequest(chatId, 'hello', { onActiveRun: 'REJECT' }))).toMatchObject({ status: 409, error: { code: 'CONFLICT' } });
    expect(await runsOf(chatId)).toHaveLength(1);
  });

  it('refuses bad input with a clear error and stores nothing', async () => {
    const chatId = `aisdk-${randomUUID()}`;
    const refusal = async (body: unknown) => (await post(body)).error;

    expect(await refusal({ id: chatId, messages: 'not a list' })).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining('messages') });
    expect(await refusal({ id: chatId, messages: [{ id: 'a', role: 'robot', parts: [] }] })).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('messages.0.role'),
    });
    expect(await refusal({ id: chatId, messages: [] })).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await refusal(chatRequest(chatId, 'hello', { agentId: 'no-such-agent' }))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await refusal(chatRequest(chatId, 'hello', { surface: 'NOWHERE' }))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await refusal({ id: chatId, messages: [{ id: 's', role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] }] })).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining("user's new message"),
    });
    expect(await refusal(chatRequest(chatId, '   '))).toMatchObject({ code: 'BAD_USER_INPUT' });
    const withFile = (url: string): UIMessage => ({
      ...userMessage('Read this.'),
      parts: [
        { type: 'file', mediaType: 'image/png', filename: 'a.png', url },
        { type: 'text', text: 'Read this.' },
      ],
    });
    for (const url of [
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
      'https://files.example/a.png',
    ]) {
      expect(await refusal({ id: chatId, messages: [withFile(url)] })).toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining('a.png') });
    }
    const notJson = await fetch(api(), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error.code).toBe('BAD_USER_INPUT');
    expect(await runsOf(chatId)).toBeNull();

    // A chat that exists: an assistant message that answers nothing is refused, and starts nothing.
    const { chunks } = await post(chatRequest(chatId, 'hello', { agentId: approver.id }));
    const runId = (chunks[0] as { messageId: string }).messageId;
    expect(
      await refusal({ id: chatId, messages: [{ id: runId, role: 'assistant', parts: [{ type: 'text', text: 'Nothing to do for hello.' }] }] }),
    ).toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    expect(await runsOf(chatId)).toHaveLength(1);
  });

  it('breaks the stream of a client that falls too far behind, rather than end its message short', async () => {
    const small = await startTestServer({ WS_MAX_BUFFERED_BYTES: '1024' });
    try {
      const chatId = `aisdk-${randomUUID()}`;
      const body = dataRequest(chatId);
      // The run, over before it is posted: the post replays it all at once, far faster than it is sent.
      const sent = await send(small.url, token, { text: QUESTION, conversationId: chatId, clientMessageId: body.messages[0]!.id, context: SALES_FILES });
      await followRun(small.url, token, sent);
      const read = fetch(`${small.url}/ai-sdk/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      }).then((response) => response.text());
      await expect(read).rejects.toThrow();
      expect(await metricValue(small.url, 'agent_gateway_active_subscriptions', { protocol: 'ai-sdk' })).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('lets pages of the allowed origins call it, as /graphql does', async () => {
    for (const path of ['/ai-sdk/chat', '/ai-sdk/chat/some-chat/stream']) {
      const preflight = await fetch(api(path), {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      const other = await fetch(api(path), { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    }
  });
});
