/**
 * Input built to break the server rather than to be served (nesting deeper than any stack, rules
 * that throw, frames only a server may send) is refused as the client's mistake: BAD_USER_INPUT
 * or 4400, nothing stored, nothing logged as an error, and a socket's other subscriptions go on.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EVENTS, SEND, tokenFor, userClient, type GraphQLResponse } from '../support/clients.ts';
import { ERROR_LEVEL, capturingLogger } from '../support/logs.ts';
import { RawGraphQLSocket } from '../support/raw-ws.ts';
import { startTestServer } from '../support/server.ts';

/** A JSON request body, written out by hand: JSON.stringify itself overflows on such nesting. */
async function postRaw(url: string, token: string, body: string): Promise<GraphQLResponse> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  return (await response.json()) as GraphQLResponse;
}

const nestedObject = (depth: number) => `${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)}`;
const nestedSelection = (depth: number) => `{ viewer ${'{ id '.repeat(depth)}${'}'.repeat(depth + 1)}`;

describe('refusing what is built to break the server', () => {
  const { logger, lines } = capturingLogger();
  let server: RunningServer;
  let token: string;
  let gql: ReturnType<typeof userClient>;
  const conversations = async () => (await gql('{ conversations(first: 100) { id } }')).data.conversations;

  beforeAll(async () => {
    // Tokens and bodies unbounded here, so that documents nested deeper than the stack reach the parser.
    server = await startTestServer({ MAX_OPERATION_TOKENS: '10000000', MAX_REQUEST_BYTES: '10000000' }, { logger });
    token = await tokenFor('breaker');
    gql = userClient(server.url, token);
  });
  afterAll(async () => {
    await server.close();
    expect(lines.filter((line) => Number(line['level']) >= ERROR_LEVEL)).toEqual([]);
  });

  it('refuses a context nested 20,000 deep with BAD_USER_INPUT, storing nothing', async () => {
    const body = `{"query":${JSON.stringify(SEND)},"variables":{"input":{"text":"hi","context":${nestedObject(20_000)}}}}`;
    const result = await postRaw(server.url, token, body);
    expect(result.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'context' } });
    expect(result.errors?.[0]?.message).toContain('nested');
    expect(await conversations()).toEqual([]);
    const shallow = await gql(SEND, { input: { text: 'hi', context: JSON.parse(nestedObject(31)) } });
    expect(shallow.errors).toBeUndefined();
  });

  it('refuses documents nested deeper than the stack with BAD_USER_INPUT and a clear message', async () => {
    const deepSelection = await gql(nestedSelection(100_000));
    expect(deepSelection.errors?.[0]).toMatchObject({ message: 'The document is nested too deeply.', extensions: { code: 'BAD_USER_INPUT' } });
    const deepList = await gql(`{ conversation(id: ${'['.repeat(100_000)}"c"${']'.repeat(100_000)}) { id } }`);
    expect(deepList.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(deepList.errors?.[0]?.message).not.toContain('Internal');
  });

  it('answers a bad subscribe over WebSocket with an error for it alone; the socket and its other subscriptions go on', async () => {
    const sent = await gql(SEND, { input: { text: 'Hello' } });
    const { conversation, afterSeq } = sent.data.sendAgentMessage;
    const raw = new RawGraphQLSocket(server.url);
    await raw.init(token);
    raw.sendJson({ id: 'live', type: 'subscribe', payload: { query: EVENTS, variables: { conversationId: conversation.id, afterSeq } } });
    await raw.nextMessage((message: any) => message.id === 'live' && message.payload.data?.agentEvents.__typename === 'AgentCompleted');
    const bad = {
      skip: `subscription { agentEvents(conversationId: "${conversation.id}") @skip(if: 1) { seq } }`,
      undeclared: 'subscription { agentEvents(conversationId: $nowhere) { seq } }',
      deep: nestedSelection(40_000), // under WS_MAX_PAYLOAD_BYTES
    };
    for (const [id, query] of Object.entries(bad)) {
      raw.sendJson({ id, type: 'subscribe', payload: { query } });
      const answer = await raw.nextMessage((message: any) => message.id === id);
      expect(answer.type, id).toBe('error');
      expect(answer.payload[0].extensions.code, id).toBe('BAD_USER_INPUT');
    }
    const again = await gql(SEND, { input: { text: 'Still there?', conversationId: conversation.id } });
    const runId = again.data.sendAgentMessage.run.id;
    const completed = await raw.nextMessage((message: any) => message.id === 'live' && message.payload.data?.agentEvents.__typename === 'AgentCompleted');
    expect(completed.payload.data.agentEvents.runId).toBe(runId);
    raw.close();
    expect((await raw.closed).code).toBe(1005);
  });

  it('closes a socket that sends an oversized frame with 1009, reporting no internal error', async () => {
    const consoleError = vi.spyOn(console, 'error');
    try {
      const raw = new RawGraphQLSocket(server.url);
      await raw.init(token);
      raw.sendJson({ id: 'big', type: 'subscribe', payload: { query: `{ viewer { id } } #${'x'.repeat(300_000)}` } });
      expect((await raw.closed).code).toBe(1009);
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
    }
  });

  it('closes a socket that sends what only a server may send with 4400', async () => {
    for (const message of [
      { type: 'next', id: '1', payload: { data: {} } },
      { type: 'error', id: '1', payload: [{ message: 'x' }] },
      { type: 'connection_ack' },
    ]) {
      const raw = new RawGraphQLSocket(server.url);
      await raw.init(token);
      raw.sendJson(message);
      expect((await raw.closed).code, message.type).toBe(4400);
    }
  });
});
