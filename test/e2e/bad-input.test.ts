/**
 * "Bad input never stores anything and never harms other users or the process": every limit of
 * the contract answers BAD_USER_INPUT and leaves the viewer's data exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, SEND, tokenFor, userClient, wsClient, type GraphQLResponse } from '../support/clients.ts';
import { RawGraphQLSocket } from '../support/raw-ws.ts';
import { startTestServer } from '../support/server.ts';

type Gql = ReturnType<typeof userClient>;

const SNAPSHOT = /* GraphQL */ `
  query Snapshot($id: ID!) {
    conversations(first: 100) {
      id
    }
    conversation(id: $id) {
      lastSeq
      messages(last: 500) {
        id
      }
      runs(last: 200) {
        id
      }
    }
  }
`;

const codeOf = (result: GraphQLResponse) => result.errors?.[0]?.extensions?.['code'];

describe('bad input', () => {
  let server: RunningServer;
  let gql: Gql;
  let token: string;
  let conversationId: string;
  const snapshot = async () => {
    const result = await gql(SNAPSHOT, { id: conversationId });
    expect(result.errors).toBeUndefined();
    // Which conversations exist, not their order (accepted sends elsewhere reorder them).
    const ids: string[] = result.data.conversations.map((item: { id: string }) => item.id).sort();
    return { ...result.data, conversations: ids };
  };

  /** Runs `attempt`, expects BAD_USER_INPUT and no change at all to the viewer's data. */
  async function expectRejectedStoringNothing(attempt: () => Promise<GraphQLResponse>, label: string) {
    const before = await snapshot();
    const result = await attempt();
    expect(codeOf(result), `${label}: ${JSON.stringify(result.errors)}`).toBe('BAD_USER_INPUT');
    expect(result.data?.sendAgentMessage ?? null, label).toBeNull();
    expect(await snapshot(), label).toEqual(before);
  }

  beforeAll(async () => {
    server = await startTestServer();
    token = await tokenFor('bad-input-user');
    gql = userClient(server.url, token);
    const sent = await gql(SEND, { input: { text: 'Hello there' } });
    expect(sent.errors).toBeUndefined();
    conversationId = sent.data.sendAgentMessage.conversation.id;
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId, afterSeq: 0 });
    await recorder.untilTerminals(1);
    recorder.stop();
    await client.dispose();
  });
  afterAll(() => server.close());

  const badSends: [string, Record<string, unknown>][] = [
    ['empty text', { text: '' }],
    ['whitespace-only text', { text: ' \n\t  ' }],
    ['text over 8000 characters', { text: 'x'.repeat(8001) }],
    ['context over 64 KiB', { text: 'Hi', context: { blob: 'x'.repeat(64 * 1024) } }],
    ['context that is a list', { text: 'Hi', context: [1, 2, 3] }],
    ['context that is a string', { text: 'Hi', context: 'files' }],
    ['context that is a number', { text: 'Hi', context: 42 }],
    ['context.files that is not a list', { text: 'Hi', context: { files: 'a.csv' } }],
    ['context.files without content', { text: 'Hi', context: { files: [{ name: 'a.csv' }] } }],
    ['context.files with an empty name', { text: 'Hi', context: { files: [{ name: '', content: 'x' }] } }],
    ['context.files with a non-string content', { text: 'Hi', context: { files: [{ name: 'a.csv', content: 5 }] } }],
    ['context.files with a non-object item', { text: 'Hi', context: { files: ['a.csv'] } }],
    ['clientMessageId over 128 characters', { text: 'Hi', clientMessageId: 'k'.repeat(129) }],
    ['context one byte over 64 KiB', { text: 'Hi', context: { blob: 'x'.repeat(64 * 1024 - 11 + 1) } }],
    ['projectId with bad characters', { text: 'Hi', projectId: 'bad id!' }],
    ['text of the wrong type (variables)', { text: 42 }],
    ['no text at all (variables)', { surface: 'HOME' }],
    ['unknown surface (variables)', { text: 'Hi', surface: 'NOWHERE' }],
    ['unknown onActiveRun (variables)', { text: 'Hi', onActiveRun: 'SOMETIMES' }],
    ['unknown target kind (variables)', { text: 'Hi', target: { kind: 'ROBOT' } }],
    ['unknown pillar (variables)', { text: 'Hi', target: { kind: 'LIAISON', pillar: 'FINANCE' } }],
    ['LIAISON target without pillar', { text: 'Hi', target: { kind: 'LIAISON' } }],
    ['GUIDE target with a pillar', { text: 'Hi', target: { kind: 'GUIDE', pillar: 'CONTENT' } }],
    ['unknown target agentId', { text: 'Hi', target: { kind: 'LIAISON', agentId: 'no.such-agent' } }],
  ];

  it.each(badSends)('rejects %s, into an existing conversation, storing nothing', async (label, input) => {
    await expectRejectedStoringNothing(() => gql(SEND, { input: { ...input, conversationId } }), label);
  });

  it.each(badSends)('rejects %s, for a new conversation, creating none', async (label, input) => {
    await expectRejectedStoringNothing(() => gql(SEND, { input }), label);
    await expectRejectedStoringNothing(() => gql(SEND, { input: { ...input, conversationId: `new-${label.replace(/\W/g, '_')}` } }), label);
    const probe = await gql('query ($id: ID!) { conversation(id: $id) { id } }', { id: `new-${label.replace(/\W/g, '_')}` });
    expect(probe).toEqual({ data: { conversation: null } });
  });

  it.each([
    ['with bad characters', 'bad id!'],
    ['with a slash', 'a/b'],
    ['over 64 characters', 'c'.repeat(65)],
    ['empty', ''],
  ])('rejects a conversationId %s, storing nothing', async (label, badId) => {
    await expectRejectedStoringNothing(() => gql(SEND, { input: { text: 'Hi', conversationId: badId } }), label);
  });

  it.each([
    ['surface', 'mutation { sendAgentMessage(input: {text: "Hi", surface: NOWHERE}) { run { id } } }'],
    ['onActiveRun', 'mutation { sendAgentMessage(input: {text: "Hi", onActiveRun: SOMETIMES}) { run { id } } }'],
    ['target kind', 'mutation { sendAgentMessage(input: {text: "Hi", target: {kind: ROBOT}}) { run { id } } }'],
    ['surface as a string', 'mutation { sendAgentMessage(input: {text: "Hi", surface: "HOME"}) { run { id } } }'],
  ])('rejects an unknown %s enum value written inline, storing nothing', async (label, mutation) => {
    await expectRejectedStoringNothing(() => gql(mutation), label);
  });

  it('accepts text of exactly 8000 characters', async () => {
    const sent = await gql(SEND, { input: { text: 'y'.repeat(8000) } });
    expect(sent.errors).toBeUndefined();
    expect(sent.data.sendAgentMessage.message.text).toHaveLength(8000);
  });

  it('accepts a context of exactly 64 KiB of JSON', async () => {
    const context = { blob: 'x'.repeat(64 * 1024 - 11) };
    expect(Buffer.byteLength(JSON.stringify(context))).toBe(64 * 1024);
    const sent = await gql(SEND, { input: { text: 'Hi', context } });
    expect(sent.errors).toBeUndefined();
  });

  it('counts characters, not UTF-16 code units: 8000 emoji are accepted, 8001 are not', async () => {
    const rejected = await gql(SEND, { input: { text: '😀'.repeat(8001) } });
    expect(codeOf(rejected)).toBe('BAD_USER_INPUT');
    const sent = await gql(SEND, { input: { text: '😀'.repeat(8000) } });
    expect(sent.errors).toBeUndefined();
    expect([...sent.data.sendAgentMessage.message.text]).toHaveLength(8000);
  });

  it('accepts a clientMessageId of exactly 128 characters and a conversationId of exactly 64', async () => {
    const conversation = `${'z'.repeat(60)}_-A9`;
    const sent = await gql(SEND, { input: { text: 'Hi', clientMessageId: 'k'.repeat(128), conversationId: conversation } });
    expect(sent.errors).toBeUndefined();
    expect(sent.data.sendAgentMessage.conversation.id).toBe(conversation);
  });

  it.each([
    ['conversation(id: "bad id!")', '{ conversation(id: "bad id!") { id } }'],
    ['conversation(id: 65 characters)', `{ conversation(id: "${'c'.repeat(65)}") { id } }`],
    ['run(id: "bad id!")', '{ run(id: "bad id!") { id } }'],
    ['run(id: "")', '{ run(id: "") { id } }'],
    ['cancelAgentRun(runId: "bad id!")', 'mutation { cancelAgentRun(runId: "bad id!") { id } }'],
    ['conversations(first: -1)', '{ conversations(first: -1) { id } }'],
    ['conversations(first: 100000)', '{ conversations(first: 100000) { id } }'],
  ])('rejects %s with BAD_USER_INPUT', async (label, query) => {
    await expectRejectedStoringNothing(() => gql(query), label);
  });

  it.each([
    ['messages(last: 100000)', 'messages(last: 100000) { id }'],
    ['messages(last: -1)', 'messages(last: -1) { id }'],
    ['runs(last: -1)', 'runs(last: -1) { id }'],
    ['events(afterSeq: -1)', 'events(afterSeq: -1) { seq }'],
    ['events(first: -1)', 'events(first: -1) { seq }'],
  ])('rejects conversation { %s } with BAD_USER_INPUT', async (label, field) => {
    await expectRejectedStoringNothing(() => gql(`query ($id: ID!) { conversation(id: $id) { ${field} } }`, { id: conversationId }), label);
  });

  it('rejects a subscription with afterSeq: -1 with BAD_USER_INPUT', async () => {
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId, afterSeq: -1 });
    await recorder.untilEnded();
    await client.dispose();
    expect(recorder.events).toEqual([]);
    expect(recorder.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  it('takes its limits from the configuration (MAX_TEXT_LENGTH=10 rejects 11 characters)', async () => {
    const small = await startTestServer({ MAX_TEXT_LENGTH: '10' });
    try {
      const smallGql = userClient(small.url, token);
      const rejected = await smallGql(SEND, { input: { text: 'x'.repeat(11) } });
      expect(codeOf(rejected)).toBe('BAD_USER_INPUT');
      expect(await smallGql('{ conversations { id } }')).toEqual({ data: { conversations: [] } });
      const accepted = await smallGql(SEND, { input: { text: 'x'.repeat(10) } });
      expect(accepted.errors).toBeUndefined();
    } finally {
      await small.close();
    }
  });

  describe('malformed WebSocket frames', () => {
    /** A second user's live subscription, whose run must be unaffected by someone else's bad socket. */
    async function bystander() {
      const bystanderToken = await tokenFor('bystander');
      const bystanderGql = userClient(server.url, bystanderToken);
      const first = await bystanderGql(SEND, { input: { text: 'Hello there' } });
      expect(first.errors).toBeUndefined();
      const { conversation, afterSeq } = first.data.sendAgentMessage;
      const client = wsClient(server.url, bystanderToken);
      const recorder = new EventRecorder(client, { conversationId: conversation.id, afterSeq });
      // The subscription is live once it has delivered the first run.
      await recorder.untilTerminals(1);
      return {
        async sendAndFinish() {
          const second = await bystanderGql(SEND, { input: { text: 'And again', conversationId: conversation.id } });
          expect(second.errors).toBeUndefined();
          const events = await recorder.untilTerminals(2);
          const secondRun = events.filter((event) => event.runId === second.data.sendAgentMessage.run.id);
          expect(secondRun[0]?.__typename).toBe('MessageCreated');
          expect(secondRun.at(-1)?.__typename).toBe('AgentCompleted');
          expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => afterSeq + 1 + index));
          recorder.stop();
          await client.dispose();
        },
      };
    }

    it.each([
      ['a non-JSON frame', (socket: RawGraphQLSocket) => socket.sendRaw('this is {not json')],
      ['an unknown message type', (socket: RawGraphQLSocket) => socket.sendJson({ type: 'gimme', id: '1' })],
      ['a subscribe without id', (socket: RawGraphQLSocket) => socket.sendJson({ type: 'subscribe', payload: { query: '{ viewer { id } }' } })],
      ['a subscribe without payload', (socket: RawGraphQLSocket) => socket.sendJson({ type: 'subscribe', id: '1' })],
      ['a JSON array', (socket: RawGraphQLSocket) => socket.sendRaw('[1,2,3]')],
      [
        'a subscribe whose payload query is not a string',
        (socket: RawGraphQLSocket) => socket.sendJson({ type: 'subscribe', id: '1', payload: { query: 42 } }),
      ],
    ])('closes the socket that sent %s with 4400, and only that socket', async (_label, misbehave) => {
      const other = await bystander();
      const raw = new RawGraphQLSocket(server.url);
      await raw.init(token);
      misbehave(raw);
      expect((await raw.closed).code).toBe(4400);
      await other.sendAndFinish();
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
    });

    it('closes a socket whose very first frame is not JSON with 4400', async () => {
      const raw = new RawGraphQLSocket(server.url);
      await raw.opened();
      raw.sendRaw('{{{');
      expect((await raw.closed).code).toBe(4400);
    });

    it('answers a subscribe whose query does not parse with an error message, keeping the socket open', async () => {
      const raw = new RawGraphQLSocket(server.url);
      await raw.init(token);
      raw.sendJson({ id: 'broken', type: 'subscribe', payload: { query: '{ viewer { id ' } });
      const error = await raw.nextMessage((message: any) => message.id === 'broken');
      expect(error.type).toBe('error');
      expect(error.payload[0].extensions.code).toBe('BAD_USER_INPUT');
      // Still open and serving.
      raw.sendJson({ id: 'fine', type: 'subscribe', payload: { query: '{ viewer { id } }' } });
      const next = await raw.nextMessage((message: any) => message.id === 'fine');
      expect(next).toEqual({ id: 'fine', type: 'next', payload: { data: { viewer: { id: 'bad-input-user' } } } });
      raw.close();
      expect((await raw.closed).code).not.toBe(4400);
    });

    it('answers a subscribe to an unknown field with an error message, keeping the socket open', async () => {
      const raw = new RawGraphQLSocket(server.url);
      await raw.init(token);
      raw.sendJson({ id: 'unknown', type: 'subscribe', payload: { query: '{ nothingHere }' } });
      const error = await raw.nextMessage((message: any) => message.id === 'unknown');
      expect(error.type).toBe('error');
      expect(error.payload[0].extensions.code).toBe('BAD_USER_INPUT');
      raw.sendJson({ id: 'fine', type: 'subscribe', payload: { query: '{ viewer { id } }' } });
      expect((await raw.nextMessage((message: any) => message.id === 'fine')).type).toBe('next');
      raw.close();
      await raw.closed;
    });
  });
});
