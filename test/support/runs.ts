/** Sending messages and checking what the contract promises about each run's events. */
import { expect } from 'vitest';
import { TERMINAL_STATUSES } from '../../src/domain/run-states.ts';
import { EventRecorder, SEND, isTerminal, userClient, wsClient, type AgentEvent } from './clients.ts';

export interface SentRun {
  conversationId: string;
  runId: string;
  messageId: string;
  afterSeq: number;
  agentId: string;
  status: string;
}

/** Sends through HTTP and fails the test on any error. */
export async function send(baseUrl: string, token: string, input: Record<string, unknown>): Promise<SentRun> {
  const response = await userClient(baseUrl, token)(SEND, { input });
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  const payload = response.data.sendAgentMessage;
  return {
    conversationId: payload.conversation.id,
    runId: payload.run.id,
    messageId: payload.message.id,
    afterSeq: payload.afterSeq,
    agentId: payload.run.agentId,
    status: payload.run.status,
  };
}

/** Sends, then follows the run over graphql-ws from the payload's afterSeq to its terminal event. */
export async function sendAndFollow(baseUrl: string, token: string, input: Record<string, unknown>) {
  const sent = await send(baseUrl, token, input);
  const events = await followRun(baseUrl, token, sent);
  return { sent, events };
}

export async function followRun(baseUrl: string, token: string, sent: SentRun): Promise<AgentEvent[]> {
  const client = wsClient(baseUrl, token);
  const recorder = new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
  try {
    const events = await recorder.until(
      (received) => received.some((event) => event.runId === sent.runId && isTerminal(event)),
      `the terminal event of run ${sent.runId}`,
    );
    return events.filter((event) => event.runId === sent.runId);
  } finally {
    recorder.stop();
    await client.dispose();
  }
}

/** Follows a streaming run until its first AgentToken, then drops the subscription; returns the last seq it saw. */
export async function seqAfterFirstToken(baseUrl: string, token: string, sent: SentRun): Promise<number> {
  const client = wsClient(baseUrl, token);
  const recorder = new EventRecorder(client, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
  try {
    const seen = await recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'a token');
    return seen.at(-1)!.seq;
  } finally {
    recorder.stop();
    await client.dispose();
  }
}

/** Resuming the (ended) run after `afterSeq` gives exactly the rest of its events; returns the whole run. */
export async function expectResumedRest(baseUrl: string, token: string, sent: SentRun, afterSeq: number): Promise<AgentEvent[]> {
  const rest = await followRun(baseUrl, token, { ...sent, afterSeq });
  const whole = await followRun(baseUrl, token, sent);
  expect(rest).toEqual(whole.filter((event) => event.seq > afterSeq));
  expect(rest.length).toBeGreaterThan(0);
  expectRunInvariants(whole, sent);
  return whole;
}

/** Every per-run statement of the contract, for the events of one run in delivery order. */
export function expectRunInvariants(events: AgentEvent[], run: { runId: string; agentId: string }) {
  expect(events.length).toBeGreaterThan(2);
  expect(events.every((event) => event.runId === run.runId)).toBe(true);
  const [created, started, ...rest] = events;
  expect(created?.__typename).toBe('MessageCreated');
  expect(created?.agentId).toBeNull();
  expect(started?.__typename).toBe('AgentStarted');
  expect(started?.agentId).toBe(run.agentId);
  expect(rest.filter((event) => event.__typename === 'AgentStarted')).toHaveLength(0);
  const terminals = events.filter(isTerminal);
  expect(terminals).toHaveLength(1);
  expect(events.at(-1)).toBe(terminals[0]);
  expect(new Set(events.map((event) => event.seq)).size, 'each event once').toBe(events.length);
  for (const event of rest) expect(typeof event.agentId, `${event.__typename} carries its agent`).toBe('string');
  const executing = events.filter((event) => event.__typename === 'ToolExecuting');
  for (const call of executing) {
    const completed = events.filter((event) => event.__typename === 'ToolCompleted' && event.toolCallId === call.toolCallId);
    expect(completed, `ToolCompleted for ${call.toolName}`).toHaveLength(1);
    expect(events.indexOf(completed[0]!)).toBeGreaterThan(events.indexOf(call));
  }
  // A denied call never ran: its ToolCompleted (TOOL_DENIED) has no ToolExecuting.
  const completed = events.filter((event) => event.__typename === 'ToolCompleted' && event.toolError?.code !== 'TOOL_DENIED');
  expect(completed).toHaveLength(executing.length);
  // Every request is followed by its one answer, or by the run's end.
  for (const requested of events.filter((event) => event.__typename === 'AgentInputRequested')) {
    const answers = events.filter((event) => event.__typename === 'AgentInputReceived' && event.requestId === requested.request.id);
    expect(answers.length, `answers to ${requested.request.id}`).toBeLessThanOrEqual(1);
    if (answers.length === 0) expect(terminals[0]!.__typename).not.toBe('AgentCompleted');
    else expect(events.indexOf(answers[0]!)).toBeGreaterThan(events.indexOf(requested));
  }
  const seqs = events.map((event) => event.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  const terminal = terminals[0]!;
  if (terminal.__typename === 'AgentCompleted') {
    const reply = events
      .filter((event) => event.__typename === 'AgentToken')
      .map((event) => event.delta)
      .join('');
    expect(reply).toBe(terminal.message.text);
    expect(terminal.message.seq).toBe(terminal.seq);
  }
}

/** seq runs 1, 2, 3, … with no gap and no repeat. */
export function expectGapless(events: AgentEvent[], from = 1) {
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => from + index));
}

export const typesOf = (events: AgentEvent[]) => events.map((event) => event.__typename);

/**
 * Waits for a run, the latest of its conversation, to end: its status terminal and its terminal
 * event the conversation's last. Both are needed: whoever ends a run moves its status first and
 * the terminal event is appended after, so a status alone does not say the conversation is
 * complete. A completed run's reply is stored with its AgentCompleted; that it is then among the
 * messages is checked too. Each round awaits the server's answers.
 */
export async function awaitRunEnd(baseUrl: string, token: string, runId: string, rounds = 2000): Promise<string> {
  const gql = userClient(baseUrl, token);
  for (let round = 0; round < rounds; round += 1) {
    const { status, conversationId } = (await gql(`query ($id: ID!) { run(id: $id) { status conversationId } }`, { id: runId })).data.run;
    if (!TERMINAL_STATUSES.has(status)) continue;
    const { lastSeq } = (await gql(`query ($id: ID!) { conversation(id: $id) { lastSeq } }`, { id: conversationId })).data.conversation;
    const last = (
      await gql(`query ($id: ID!, $after: Int) { conversation(id: $id) { events(afterSeq: $after) { __typename runId } } }`, {
        id: conversationId,
        after: lastSeq - 1,
      })
    ).data.conversation.events[0] as AgentEvent | undefined;
    if (last?.runId !== runId || !isTerminal(last)) continue;
    if (status !== 'COMPLETED') return status;
    const { messages } = (await gql(`query ($id: ID!) { conversation(id: $id) { messages { role runId } } }`, { id: conversationId })).data.conversation;
    if (messages.some((message: { role: string; runId: string | null }) => message.role === 'AGENT' && message.runId === runId)) return status;
  }
  throw new Error(`run ${runId} did not finish`);
}
