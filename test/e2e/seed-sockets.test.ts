/**
 * The older sockets (/api/ws/agent, /api/runtime/agent) with bare `ws` clients: a run as GraphQL
 * shows it, seq and run_id on every frame, resume after a cut exactly once, idempotent sends,
 * input requests answered and cancelled, auth both ways and its refusals, users kept apart,
 * malformed and refused frames, and one conversation followed through another instance.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { SALES_CSV } from '../clients/whole-run.ts';
import { tokenFor, userClient, type AgentEvent } from '../support/clients.ts';
import { approver, HITL_TOOLS } from '../support/hitl-agents.ts';
import { metricValue } from '../support/metrics.ts';
import { RawJsonSocket } from '../support/raw-ws.ts';
import { followRun, send, type SentRun } from '../support/runs.ts';
import { SHARED_TOPOLOGY, sameDeploymentAs, startTestServer } from '../support/server.ts';

type Frame = Record<string, any>;

const AGENT_WS = '/api/ws/agent';
const RUNTIME = '/api/runtime/agent';
const RUNTIME_EVENT_TYPES = ['agent.started', 'agent.token', 'agent.completed', 'agent.failed'];
const CONVERSATION = `query ($id: ID!) { conversation(id: $id) { id lastSeq runs(last: 10) { id status } } }`;

const isAgentWsEnd = (frame: Frame) => ['complete', 'error', 'cancelled'].includes(frame['type']) && frame['run_id'] !== null;
const isRuntimeEnd = (frame: Frame) => frame['event_type'] === 'agent.completed' || frame['event_type'] === 'agent.failed';

/** The frames `socket` receives, in order, up to and including the first that `last` accepts. */
async function framesUntil(socket: RawJsonSocket, last: (frame: Frame) => boolean): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (;;) {
    const frame = await socket.nextMessage<Frame>();
    frames.push(frame);
    if (last(frame)) return frames;
  }
}

function expectSeqAndRunOnEvery(frames: readonly Frame[], runId: string) {
  for (const frame of frames) {
    expect(frame['run_id'], JSON.stringify(frame)).toBe(runId);
    expect(Number.isInteger(frame['seq']), JSON.stringify(frame)).toBe(true);
  }
  const seqs = frames.map((frame) => frame['seq']);
  expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
}

const insightsMessage = (extra: Frame = {}): Frame => ({
  agent_type: 'liaison',
  pillar: 'insights',
  message: 'What trends are in this data?',
  conversation_id: `seed-${randomUUID()}`,
  context: { files: [{ name: 'sales.csv', content: SALES_CSV }] },
  ...extra,
});

describe('the older sockets', () => {
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer({}, { agents: [approver], tools: HITL_TOOLS });
    token = await tokenFor('seed-user');
  });
  afterAll(() => server.close());

  /** An open socket on `path`, the token in the query unless `query` says otherwise. */
  async function openSocket(path: string, query: Record<string, string> = {}, on = server, options: { headers?: Record<string, string> } = {}) {
    const params = new URLSearchParams({ session_token: token, ...query });
    if (options.headers) params.delete('session_token');
    const socket = new RawJsonSocket(on.url, `${path}?${params}`, options);
    await socket.opened();
    return socket;
  }

  const graphQLRun = (conversationId: string, runId: string) => followRun(server.url, token, { conversationId, runId, afterSeq: 0 } as SentRun);
  const ofType = (events: AgentEvent[], type: string) => events.filter((event) => event.__typename === type);

  it('/api/ws/agent: streams a run as GraphQL shows it, every frame with its seq and run_id', async () => {
    const delivered = () => metricValue(server.url, 'agent_gateway_events_delivered_total', { protocol: 'seed-ws' });
    const before = await delivered();
    const socket = await openSocket(AGENT_WS);
    const message = insightsMessage();
    socket.sendJson(message);
    const frames = await framesUntil(socket, isAgentWsEnd);
    socket.close();
    const runId = frames[0]!['run_id'] as string;
    expectSeqAndRunOnEvery(frames, runId);

    const graphql = await graphQLRun(message.conversation_id, runId);
    // Every event of the run is a frame, with the event's seq.
    expect(frames.map((frame) => frame['seq'])).toEqual(graphql.map((event) => event.seq));
    expect(frames[0]).toMatchObject({ type: 'user_message', message: message.message, conversation_id: message.conversation_id, agent_type: null });
    expect(frames[1]).toMatchObject({ type: 'agent_started', agent_type: 'liaison', pillar: 'insights', data: { agent_id: 'liaison.insights' } });
    const tokens = frames.filter((frame) => frame['type'] === 'token');
    expect(tokens.map((frame) => frame['message']).join('')).toBe(
      ofType(graphql, 'AgentToken')
        .map((event) => event['delta'])
        .join(''),
    );
    const calls = frames.filter((frame) => frame['type'] === 'tool_call').map((frame) => [frame['data'].tool_call_id, frame['data'].tool_name]);
    expect(calls).toEqual(ofType(graphql, 'ToolExecuting').map((event) => [event['toolCallId'], event['toolName']]));
    expect(calls.length).toBeGreaterThan(0);
    const results = frames.filter((frame) => frame['type'] === 'tool_result').map((frame) => frame['data'].tool_call_id);
    expect(results).toEqual(ofType(graphql, 'ToolCompleted').map((event) => event['toolCallId']));
    const [completed] = ofType(graphql, 'AgentCompleted');
    expect(frames.at(-1)).toMatchObject({ type: 'complete', message: completed!['message'].text, data: { message_id: completed!['message'].id } });
    expect(await delivered()).toBe(before + graphql.length);
  });

  it('/api/runtime/agent: shows a run in its four event types, and every kind with events=all', async () => {
    const conversationId = `seed-${randomUUID()}`;
    const socket = await openSocket(RUNTIME);
    socket.sendJson({
      type: 'agent.message',
      payload: {
        text: 'What trends are in this data?',
        context: { surface: 'insights', conversation_id: conversationId, files: [{ name: 'sales.csv', content: SALES_CSV }] },
      },
    });
    const frames = await framesUntil(socket, isRuntimeEnd);
    socket.close();
    const runId = frames[0]!['run_id'] as string;
    expectSeqAndRunOnEvery(frames, runId);
    for (const frame of frames) expect(frame).toMatchObject({ type: 'runtime_event', data: { conversation_id: conversationId } });
    // Its tools ran (below), but only the four types a client of this socket knows go out.
    expect(
      frames.every((frame) => RUNTIME_EVENT_TYPES.includes(frame['event_type'])),
      JSON.stringify(frames),
    ).toBe(true);
    expect(frames[0]).toMatchObject({ event_type: 'agent.started', data: { agent_id: 'liaison.insights' } });

    const graphql = await graphQLRun(conversationId, runId);
    const text = frames
      .filter((frame) => frame['event_type'] === 'agent.token')
      .map((frame) => frame['data'].delta)
      .join('');
    expect(text).toBe(
      ofType(graphql, 'AgentToken')
        .map((event) => event['delta'])
        .join(''),
    );
    expect(frames.at(-1)!['data'].text).toBe(text);
    expect(frames.at(-1)!['timestamp']).toBe(ofType(graphql, 'AgentCompleted')[0]!.timestamp);

    // The same run replayed with every kind of event: its tools too, each seq once.
    const all = await openSocket(RUNTIME, { events: 'all', conversation_id: conversationId, after_seq: '0' });
    const every = await framesUntil(all, isRuntimeEnd);
    all.close();
    expect(every.map((frame) => frame['seq'])).toEqual(graphql.map((event) => event.seq));
    const calls = every.filter((frame) => frame['event_type'] === 'agent.tool_call').map((frame) => frame['data'].tool_name);
    expect(calls).toEqual(ofType(graphql, 'ToolExecuting').map((event) => event['toolName']));
    expect(calls.length).toBeGreaterThan(0);
  });

  it('resumes after a cut with after_seq: the rest exactly once, then what comes live, until deleted', async () => {
    const message = insightsMessage();
    const first = await openSocket(AGENT_WS);
    first.sendJson(message);
    const seen = await framesUntil(first, (frame) => frame['type'] === 'token');
    first.close();
    const cut = seen.at(-1)!['seq'] as number;
    const runId = seen[0]!['run_id'] as string;
    const whole = await graphQLRun(message.conversation_id, runId);

    const resumed = await openSocket(AGENT_WS, { conversation_id: message.conversation_id, after_seq: String(cut) });
    const rest = await framesUntil(resumed, isAgentWsEnd);
    expect(rest.map((frame) => frame['seq'])).toEqual(whole.filter((event) => event.seq > cut).map((event) => event.seq));
    expectSeqAndRunOnEvery(rest, runId);

    // Then it follows live: a message sent through GraphQL streams to it.
    const next = await send(server.url, token, { text: 'And the outcomes?', conversationId: message.conversation_id });
    const live = await framesUntil(resumed, isAgentWsEnd);
    expect(live[0]).toMatchObject({ type: 'user_message', seq: whole.at(-1)!.seq + 1, run_id: next.runId });
    expectSeqAndRunOnEvery(live, next.runId);

    // Deleted, the conversation is no longer followed: NOT_FOUND, as a GraphQL subscription ends.
    await userClient(server.url, token)(`mutation ($id: ID!) { deleteConversation(id: $id) }`, { id: message.conversation_id });
    expect(await resumed.nextMessage()).toMatchObject({ type: 'error', seq: live.at(-1)!['seq'], run_id: null, data: { code: 'NOT_FOUND' } });
    resumed.close();
  });

  it('starts one run for a client_message_id sent twice, through either socket', async () => {
    const message = insightsMessage({ client_message_id: `seed-${randomUUID()}` });
    const first = await openSocket(AGENT_WS);
    first.sendJson(message);
    const once = await framesUntil(first, isAgentWsEnd);
    first.close();
    const again = await openSocket(AGENT_WS);
    again.sendJson(message);
    const twice = await framesUntil(again, isAgentWsEnd);
    again.close();
    // The repeat streams the same run again, from its message.
    expect(twice).toEqual(once);

    const runtime = await openSocket(RUNTIME);
    runtime.sendJson({ type: 'agent.message', payload: { text: message.message, client_message_id: message.client_message_id } });
    const thrice = await framesUntil(runtime, isRuntimeEnd);
    runtime.close();
    expect(thrice[0]!['run_id']).toBe(once[0]!['run_id']);
    const { data } = await userClient(server.url, token)(CONVERSATION, { id: message.conversation_id });
    expect(data.conversation.runs).toHaveLength(1);
  });

  it('answers and cancels what a run asks through frames', async () => {
    const socket = await openSocket(AGENT_WS);
    socket.sendJson({ agent_id: approver.id, message: 'question' });
    const asked = (await framesUntil(socket, (frame) => frame['type'] === 'input_requested')).at(-1)!;
    expect(asked).toMatchObject({ message: 'Which color?', data: { request: { kind: 'question', options: ['red', 'blue'] } } });
    socket.sendJson({ type: 'respond', request_id: asked['data'].request.id, answer: 'red' });
    const answered = await framesUntil(socket, isAgentWsEnd);
    expect(answered[0]!['type']).toBe('input_received');
    expect(answered.slice(1, -1).every((frame) => frame['type'] === 'token')).toBe(true);
    expect(answered.at(-1)!['message']).toBe('You chose red.');

    // Without a run_id, a cancel ends the active run of the conversation the socket follows.
    socket.sendJson({ agent_id: approver.id, message: 'question', conversation_id: asked['conversation_id'] });
    const waiting = (await framesUntil(socket, (frame) => frame['type'] === 'input_requested')).at(-1)!;
    socket.sendJson({ type: 'cancel' });
    expect((await framesUntil(socket, isAgentWsEnd)).at(-1)).toMatchObject({ type: 'cancelled', run_id: waiting['run_id'] });

    // On /api/runtime/agent a cancelled run ends with agent.failed, code CANCELLED.
    const runtime = await openSocket(RUNTIME);
    runtime.sendJson({ type: 'agent.message', payload: { text: 'question', agent_id: approver.id } });
    const started = await runtime.nextMessage<Frame>();
    expect(started['event_type']).toBe('agent.started');
    runtime.sendJson({ type: 'agent.cancel', payload: { run_id: started['run_id'] } });
    expect(await runtime.nextMessage()).toMatchObject({ event_type: 'agent.failed', run_id: started['run_id'], data: { code: 'CANCELLED' } });
    socket.close();
    runtime.close();
  });

  it('takes the token in the query or the Authorization header, and refuses others with 4403', async () => {
    const byHeader = await openSocket(RUNTIME, {}, server, { headers: { authorization: `Bearer ${token}` } });
    byHeader.sendJson({ type: 'agent.message', payload: { text: 'Hello' } });
    expect((await framesUntil(byHeader, isRuntimeEnd)).at(-1)!['event_type']).toBe('agent.completed');
    byHeader.close();

    const expired = await tokenFor('seed-user', { expiresIn: -10 });
    const forged = await tokenFor('seed-user', { secret: 'another-secret-that-is-at-least-32-characters' });
    const refusals = [
      [AGENT_WS, {}],
      [AGENT_WS, { session_token: expired }],
      [RUNTIME, { session_token: forged }],
      [RUNTIME, { session_token: 'not a token' }],
    ] as const;
    for (const [path, query] of refusals) {
      const params = new URLSearchParams(query);
      const socket = new RawJsonSocket(server.url, `${path}?${params}`);
      const frame = await socket.nextMessage<Frame>();
      expect(frame['data'].code).toBe('UNAUTHENTICATED');
      expect(frame).toMatchObject({ type: 'error', seq: 0, run_id: null });
      expect((await socket.closed).code).toBe(4403);
    }
    const header = new RawJsonSocket(server.url, AGENT_WS, { headers: { authorization: `Bearer ${forged}` } });
    expect((await header.closed).code).toBe(4403);

    // An open socket is closed with 4403 when its token expires.
    const shortLived = await tokenFor('seed-user', { expiresIn: 2 });
    const expiring = new RawJsonSocket(server.url, `${AGENT_WS}?session_token=${shortLived}`);
    await expiring.opened();
    expiring.sendJson({ type: 'ping' });
    expect(await expiring.nextMessage()).toMatchObject({ type: 'pong' });
    expect(await expiring.closed).toEqual({ code: 4403, reason: 'Token expired' });
  });

  it("keeps users apart: someone else's conversation is NOT_FOUND, exactly as one that does not exist", async () => {
    const message = insightsMessage();
    const owner = await openSocket(AGENT_WS);
    owner.sendJson(message);
    const ownerFrames = await framesUntil(owner, isAgentWsEnd);
    owner.close();
    const runId = ownerFrames[0]!['run_id'];

    const other = await tokenFor('seed-someone-else');
    /** What the other user's socket, following `conversationId`, answers: that follow's error, then each frame's. */
    const answersTo = async (conversationId: string, frames: Frame[]) => {
      const socket = new RawJsonSocket(
        server.url,
        `${AGENT_WS}?${new URLSearchParams({ session_token: other, conversation_id: conversationId, after_seq: '0' })}`,
      );
      await socket.opened();
      for (const frame of frames) socket.sendJson(frame);
      const answers = [];
      for (let index = 0; index <= frames.length; index += 1) {
        const { timestamp: _t, conversation_id: _c, ...answer } = await socket.nextMessage<Frame>();
        answers.push(answer);
      }
      socket.close();
      return answers;
    };
    const missing = `seed-${randomUUID()}`;
    const theirs = await answersTo(message.conversation_id, [{ type: 'cancel', run_id: runId }]);
    const nobodys = await answersTo(missing, [{ type: 'cancel', run_id: `${missing}-run` }]);
    expect(theirs.map((answer) => answer['data'].code)).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect(theirs).toEqual(nobodys);
    // Sending into it is NOT_FOUND too (an unused id would create a conversation).
    const [, sendAnswer] = await answersTo(message.conversation_id, [{ message: 'hello', conversation_id: message.conversation_id }]);
    expect(sendAnswer).toMatchObject({ type: 'error', run_id: null, data: { code: 'NOT_FOUND' } });
    const { data } = await userClient(server.url, token)(CONVERSATION, { id: message.conversation_id });
    expect(data.conversation.runs).toHaveLength(1);
    expect(data.conversation.lastSeq).toBe(ownerFrames.at(-1)!['seq']);
  });

  it('closes a socket that sends a frame that cannot be read (or asks for after_seq alone) with 4400, and the others go on', async () => {
    const going = await openSocket(AGENT_WS);
    going.sendJson(insightsMessage());
    const broken = await openSocket(AGENT_WS);
    broken.sendRaw('{ not json');
    expect(await broken.nextMessage<Frame>()).toMatchObject({ type: 'error', data: { code: 'BAD_USER_INPUT' } });
    expect((await broken.closed).code).toBe(4400);
    const unknownType = await openSocket(RUNTIME);
    unknownType.sendJson({ type: 'agent.shout', payload: {} });
    expect(await unknownType.nextMessage<Frame>()).toMatchObject({ type: 'error', data: { code: 'BAD_USER_INPUT' } });
    expect((await unknownType.closed).code).toBe(4400);
    // after_seq without the conversation it is a seq of cannot be followed.
    const unanchored = await openSocket(AGENT_WS, { after_seq: '3' });
    expect(await unanchored.nextMessage<Frame>()).toMatchObject({ type: 'error', data: { code: 'BAD_USER_INPUT', field: 'after_seq' } });
    expect((await unanchored.closed).code).toBe(4400);
    expect((await framesUntil(going, isAgentWsEnd)).at(-1)!['type']).toBe('complete');
    going.close();
  });

  it('refuses a frame that does not fit with BAD_USER_INPUT, stores nothing, and the socket goes on', async () => {
    const conversationId = `seed-${randomUUID()}`;
    const agentWs = await openSocket(AGENT_WS);
    const runtime = await openSocket(RUNTIME);
    const refused = [
      [agentWs, { message: '  ', conversation_id: conversationId }],
      [agentWs, { message: 'hello', pillar: 'finance', conversation_id: conversationId }],
      [agentWs, { message: 'hello', agent_type: 'liaison', conversation_id: conversationId }],
      [agentWs, { message: 42, conversation_id: conversationId }],
      [agentWs, { type: 'cancel', run_id: 7 }],
      [runtime, { type: 'agent.message', payload: { text: '', context: { conversation_id: conversationId } } }],
      [runtime, { type: 'agent.message', payload: { text: 'hello', context: { surface: 'moon', conversation_id: conversationId } } }],
      [runtime, { type: 'agent.message' }],
    ] as const;
    for (const [socket, frame] of refused) {
      socket.sendJson(frame);
      expect(await socket.nextMessage<Frame>(), JSON.stringify(frame)).toMatchObject({ type: 'error', run_id: null, data: { code: 'BAD_USER_INPUT' } });
    }
    expect((await userClient(server.url, token)(CONVERSATION, { id: conversationId })).data.conversation).toBeNull();
    // Both sockets are still open and serve a good frame.
    agentWs.sendJson({ message: 'Hello' });
    expect((await framesUntil(agentWs, isAgentWsEnd)).at(-1)!['type']).toBe('complete');
    runtime.sendJson({ type: 'ping' });
    expect(await runtime.nextMessage()).toMatchObject({ type: 'pong', seq: 0, run_id: null });
    agentWs.close();
    runtime.close();
  });

  it('follows through another instance a conversation sent to on one', async () => {
    const second = SHARED_TOPOLOGY ? await startTestServer({ ...sameDeploymentAs(server) }, { agents: [approver], tools: HITL_TOOLS }) : server;
    try {
      const message = insightsMessage();
      const sender = await openSocket(AGENT_WS);
      sender.sendJson(message);
      const sent = await framesUntil(sender, isAgentWsEnd);
      sender.close();
      const follower = await openSocket(AGENT_WS, { conversation_id: message.conversation_id, after_seq: '0' }, second);
      const followed = await framesUntil(follower, isAgentWsEnd);
      expect(followed).toEqual(sent);
      // Live too: a send on the first instance streams to the socket on the second.
      const next: SentRun = await send(server.url, token, { text: 'Hello again', conversationId: message.conversation_id });
      const live = await framesUntil(follower, isAgentWsEnd);
      follower.close();
      expectSeqAndRunOnEvery(live, next.runId);
      expect(live[0]!['seq']).toBe(sent.at(-1)!['seq'] + 1);
    } finally {
      if (second !== server) await second.close();
    }
  });
});
