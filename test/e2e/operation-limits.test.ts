/**
 * Operation limits: an operation over any of them is refused with BAD_USER_INPUT naming the
 * limit, over HTTP and over WebSocket, before anything runs; the socket that sent it goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { httpGraphQL, tokenFor, userClient, type GraphQLResponse } from '../support/clients.ts';
import { RawGraphQLSocket } from '../support/raw-ws.ts';
import { subscribeSse } from '../support/sse.ts';
import { startTestServer } from '../support/server.ts';

/** Each is a send that would store a message if it ran, and each is over exactly one limit. */
const OVER: [setting: string, query: string][] = [
  ['MAX_OPERATION_TOKENS', `mutation { sendAgentMessage(input: {text: "t"}) { afterSeq ${'__typename '.repeat(200)} } }`],
  ['MAX_OPERATION_DEPTH', 'mutation { sendAgentMessage(input: {text: "d"}) { conversation { runs { error { code } } } } }'],
  ['MAX_OPERATION_ALIASES', 'mutation { sendAgentMessage(input: {text: "a"}) { a: afterSeq b: afterSeq c: afterSeq } }'],
  [
    'MAX_OPERATION_DIRECTIVES',
    'mutation { sendAgentMessage(input: {text: "i"}) { afterSeq @include(if: true) run @include(if: true) { id } message @include(if: true) { id } } }',
  ],
  ['MAX_OPERATION_COST', 'mutation { sendAgentMessage(input: {text: "c"}) { conversation { messages(last: 500) { id } } } }'],
];

type GraphQLError = NonNullable<GraphQLResponse['errors']>[number];

const limitsOf = (result: GraphQLResponse) => result.errors?.map((error) => error.extensions?.['limit']);

describe('operation limits', () => {
  let server: RunningServer;
  let token: string;
  let gql: ReturnType<typeof userClient>;
  const storedConversations = async () => (await gql('{ conversations(first: 100) { id } }')).data.conversations;

  beforeAll(async () => {
    server = await startTestServer({
      MAX_OPERATION_TOKENS: '200',
      MAX_OPERATION_DEPTH: '4',
      MAX_OPERATION_ALIASES: '2',
      MAX_OPERATION_DIRECTIVES: '2',
      MAX_OPERATION_COST: '200',
    });
    token = await tokenFor('limited-user');
    gql = userClient(server.url, token);
  });
  afterAll(() => server.close());

  it.each(OVER)('refuses an operation over %s over HTTP, naming the limit, and stores nothing', async (setting, query) => {
    const result = await gql(query);
    expect(result.data ?? null).toBeNull();
    expect(
      result.errors?.every((error) => error.extensions?.['code'] === 'BAD_USER_INPUT'),
      JSON.stringify(result),
    ).toBe(true);
    expect(limitsOf(result)).toEqual([setting]);
    expect(result.errors?.[0]?.message).toContain(setting);
    expect(await storedConversations()).toEqual([]);
  });

  it('refuses each over WebSocket as an error of that operation alone; the socket serves on and nothing is stored', async () => {
    const raw = new RawGraphQLSocket(server.url);
    await raw.init(token);
    for (const [setting, query] of OVER) {
      raw.sendJson({ id: setting, type: 'subscribe', payload: { query } });
      const answer = await raw.nextMessage((message: any) => message.id === setting);
      expect(answer.type, setting).toBe('error');
      expect(answer.payload.map((error: any) => [error.extensions.code, error.extensions.limit])).toEqual([['BAD_USER_INPUT', setting]]);
    }
    raw.sendJson({ id: 'fine', type: 'subscribe', payload: { query: '{ viewer { id } }' } });
    expect(await raw.nextMessage((message: any) => message.id === 'fine')).toMatchObject({ type: 'next' });
    raw.close();
    expect((await raw.closed).code).toBe(1005);
    expect(await storedConversations()).toEqual([]);
  });

  it('refuses a subscription over a limit over SSE too', async () => {
    const aliased = 'subscription { agentEvents(conversationId: "c") { a: seq b: seq c: seq } }';
    const subscription = await subscribeSse(server.url, token, aliased);
    const { value } = await subscription.results.next();
    subscription.close();
    expect(value?.errors?.map((error: GraphQLError) => [error.extensions?.['code'], error.extensions?.['limit']])).toEqual([
      ['BAD_USER_INPUT', 'MAX_OPERATION_ALIASES'],
    ]);
  });

  it('counts a page by its variable, or by the argument default when none is given', async () => {
    const sent = await gql('mutation { sendAgentMessage(input: {text: "hello"}) { conversation { id } } }');
    const id = sent.data.sendAgentMessage.conversation.id;
    const page = 'query ($id: ID!, $n: Int) { conversation(id: $id) { messages(last: $n) { id } } }';
    expect((await gql(page, { id, n: 10 })).errors).toBeUndefined();
    expect(limitsOf(await gql(page, { id, n: 500 }))).toEqual(['MAX_OPERATION_COST']);
    // events(first:) defaults to 100 items: 1 + 100 x 2 is over 200.
    expect(limitsOf(await gql('query ($id: ID!) { conversation(id: $id) { events { seq } } }', { id }))).toEqual(['MAX_OPERATION_COST']);
    const subscribe = new RawGraphQLSocket(server.url);
    await subscribe.init(token);
    subscribe.sendJson({ id: 'page', type: 'subscribe', payload: { query: page, variables: { id, n: 500 } } });
    expect((await subscribe.nextMessage((message: any) => message.id === 'page')).payload[0].extensions.limit).toBe('MAX_OPERATION_COST');
    subscribe.close();
    await subscribe.closed;
  });

  it('answers an unknown operationName with BAD_USER_INPUT over HTTP and WebSocket', async () => {
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'query A { viewer { id } }', operationName: 'B' }),
    });
    expect(((await response.json()) as GraphQLResponse).errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    const raw = new RawGraphQLSocket(server.url);
    await raw.init(token);
    raw.sendJson({ id: 'b', type: 'subscribe', payload: { query: 'query A { viewer { id } }', operationName: 'B' } });
    const answer = await raw.nextMessage((message: any) => message.id === 'b');
    expect(answer).toMatchObject({ type: 'error', payload: [{ message: 'The document has no operation named "B".', extensions: { code: 'BAD_USER_INPUT' } }] });
    raw.close();
    await raw.closed;
  });
});

describe('operation limits at their defaults', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('refuses the known attacks, with or without a token', async () => {
    const token = await tokenFor('attacker');
    // As many as fit in MAX_REQUEST_BYTES (a larger body is refused unread, see below).
    const aliases = Array.from({ length: 2500 }, (_, index) => `a${index}: conversation(id: "c") { events(first: 100) { seq } }`);
    expect(limitsOf(await httpGraphQL(server.url, `{ ${aliases.join(' ')} }`, {}, token))).toEqual(['MAX_OPERATION_TOKENS']);
    const pages = Array.from({ length: 2500 }, (_, index) => `p${index}: events(first: 1000) { seq }`);
    expect(limitsOf(await httpGraphQL(server.url, `{ conversation(id: "c") { ${pages.join(' ')} } }`, {}, token))).toEqual(['MAX_OPERATION_TOKENS']);
    const typenames = `{ ${Array.from({ length: 10_000 }, (_, index) => `t${index}: __typename`).join(' ')} }`;
    expect(limitsOf(await httpGraphQL(server.url, typenames))).toEqual(['MAX_OPERATION_TOKENS']);
    // Under the token limit, the aliases and the cost still refuse.
    const fewPages = Array.from({ length: 25 }, (_, index) => `p${index}: events(first: 1000) { seq }`);
    expect(limitsOf(await httpGraphQL(server.url, `{ conversation(id: "c") { ${fewPages.join(' ')} } }`, {}, token))).toEqual(['MAX_OPERATION_COST']);
    const manyAliases = Array.from({ length: 31 }, (_, index) => `v${index}: viewer { id }`);
    expect(limitsOf(await httpGraphQL(server.url, `{ ${manyAliases.join(' ')} }`, {}, token))).toEqual(['MAX_OPERATION_ALIASES']);
  });
});

describe('request bodies', () => {
  it('refuses a body over MAX_REQUEST_BYTES with 413, and one without a length with 411, before reading it', async () => {
    const server = await startTestServer({ MAX_REQUEST_BYTES: '2048' });
    try {
      const token = await tokenFor('big-sender');
      const post = (body: BodyInit, headers: Record<string, string> = {}) =>
        fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
          body,
          duplex: 'half',
        } as RequestInit);
      const send = (text: string) => JSON.stringify({ query: `mutation { sendAgentMessage(input: {text: "${text}"}) { afterSeq } }` });
      const tooLarge = await post(send('x'.repeat(4000)));
      expect(tooLarge.status).toBe(413);
      expect(((await tooLarge.json()) as GraphQLResponse).errors?.[0]?.message).toContain('MAX_REQUEST_BYTES');
      const chunked = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(send('chunked')));
          controller.close();
        },
      });
      expect((await post(chunked)).status).toBe(411);
      expect((await userClient(server.url, token)('{ conversations { id } }')).data.conversations).toEqual([]);
      expect((await post(send('fits'))).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('field suggestions', () => {
  it('are given outside production and withheld in production, over HTTP and WebSocket', async () => {
    const token = await tokenFor('prober');
    const development = await startTestServer();
    const production = await startTestServer({ NODE_ENV: 'production' });
    try {
      const probes = [
        ['{ viewr { id } }', {}],
        ['mutation ($input: SendAgentMessageInput!) { sendAgentMessage(input: $input) { afterSeq } }', { input: { text: 'x', surface: 'HOM' } }],
      ] as const;
      for (const [query, variables] of probes) {
        expect((await httpGraphQL(development.url, query, variables, token)).errors?.[0]?.message).toContain('Did you mean');
        const refused = await httpGraphQL(production.url, query, variables, token);
        expect(refused.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
        expect(refused.errors?.[0]?.message).not.toMatch(/Did you mean|viewer|HOME/);
      }
      const raw = new RawGraphQLSocket(production.url);
      await raw.init(token);
      raw.sendJson({ id: 'probe', type: 'subscribe', payload: { query: 'subscription { agentEvent { seq } }' } });
      const answer = await raw.nextMessage((message: any) => message.id === 'probe');
      expect(answer.type).toBe('error');
      expect(answer.payload[0].message).not.toMatch(/Did you mean|agentEvents/);
      raw.close();
      await raw.closed;
    } finally {
      await Promise.all([development.close(), production.close()]);
    }
  });
});
