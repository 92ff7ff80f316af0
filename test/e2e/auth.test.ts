/**
 * Authentication, as the contract's "Authentication" section binds it: bearer JWTs on HTTP and at
 * WebSocket connection_init, expiry of open sockets, dev tokens, and refusing to start unsafely.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, SEND, closeCodeOf, tokenFor, userClient, wsClient, type GraphQLResponse } from '../support/clients.ts';
import { metricValue } from '../support/metrics.ts';
import { spawnGateway } from '../support/process.ts';
import { TEST_SECRET, startTestServer } from '../support/server.ts';

const OTHER_SECRET = 'another-secret-that-is-also-at-least-32-characters';

/** GraphQL over HTTP with an exact Authorization header (or none). */
async function graphqlWithHeader(
  baseUrl: string,
  authorization: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse;
}

async function signed(claims: Record<string, unknown>, alg = 'HS256'): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(TEST_SECRET));
}

/** A JWT with alg "none" and no signature. */
function unsigned(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** Each kind of bad credential, as the Authorization value it produces (null: no header at all). */
async function badAuthorizations(): Promise<[string, string | null][]> {
  return [
    ['missing', null],
    ['empty', ''],
    ['"Token abc"', 'Token abc'],
    ['"Bearer" alone', 'Bearer'],
    ['not a JWT', 'Bearer abc.def.ghi'],
    ['badly signed', `Bearer ${await tokenFor('mallory', { secret: OTHER_SECRET })}`],
    ['expired', `Bearer ${await tokenFor('late-user', { expiresIn: -60 })}`],
    ['without sub', `Bearer ${await signed({ tid: 'tenant-x' })}`],
    ['with an empty sub', `Bearer ${await signed({ sub: '' })}`],
    ['with a numeric sub', `Bearer ${await signed({ sub: 42 })}`],
    ['signed with HS512 (not HS256)', `Bearer ${await signed({ sub: 'alg-user' }, 'HS512')}`],
    ['unsigned (alg none)', `Bearer ${unsigned({ sub: 'none-user' })}`],
    ['a token and trailing junk', `Bearer ${await tokenFor('junk-user')} extra`],
  ];
}

const VIEWER = '{ viewer { id tenantId } }';
const CONVERSATIONS = '{ conversations { id } }';

describe('authentication with a configured secret', () => {
  let server: RunningServer;
  let bad: [string, string | null][];
  beforeAll(async () => {
    server = await startTestServer();
    bad = await badAuthorizations();
  });
  afterAll(() => server.close());

  it('rejects every missing, malformed, badly signed, expired or sub-less token on queries with UNAUTHENTICATED', async () => {
    for (const [label, authorization] of bad) {
      for (const query of [VIEWER, CONVERSATIONS, '{ agents { id } }', '{ run(id: "r1") { id } }']) {
        const result = await graphqlWithHeader(server.url, authorization, query);
        expect(result.errors?.[0]?.extensions?.['code'], `${label}: ${query}`).toBe('UNAUTHENTICATED');
        // Nothing leaks: no data at all, or only nulls for nullable root fields.
        expect(
          Object.values(result.data ?? {}).every((value) => value === null),
          `${label}: ${query}`,
        ).toBe(true);
      }
    }
  });

  it('rejects them on mutations with UNAUTHENTICATED, and the mutation stores nothing', async () => {
    const conversationId = `auth-probe-${Date.now()}`;
    for (const [label, authorization] of bad) {
      const sent = await graphqlWithHeader(server.url, authorization, SEND, { input: { text: 'Hello', conversationId } });
      expect(sent.errors?.[0]?.extensions?.['code'], label).toBe('UNAUTHENTICATED');
      expect(sent.data ?? null, label).toBeNull();
      const cancelled = await graphqlWithHeader(server.url, authorization, 'mutation { cancelAgentRun(runId: "r1") { id } }');
      expect(cancelled.errors?.[0]?.extensions?.['code'], label).toBe('UNAUTHENTICATED');
    }
    // Nothing was created under that id: its first real owner creates it fresh.
    const owner = userClient(server.url, await tokenFor('auth-probe-owner'));
    const created = await owner(SEND, { input: { text: 'Hello', conversationId } });
    expect(created.errors).toBeUndefined();
    expect(created.data.sendAgentMessage.message.seq).toBe(1);
  });

  it('accepts a valid token and reports its sub and tid as the viewer', async () => {
    const withTenant = await userClient(server.url, await tokenFor('alice', { tenantId: 'acme', expiresIn: 600 }))(VIEWER);
    expect(withTenant).toEqual({ data: { viewer: { id: 'alice', tenantId: 'acme' } } });
    const withoutTenant = await userClient(server.url, await tokenFor('bob', { expiresIn: 600 }))(VIEWER);
    expect(withoutTenant).toEqual({ data: { viewer: { id: 'bob', tenantId: null } } });
  });

  it('accepts a token without exp', async () => {
    const token = await tokenFor('eternal-user');
    const [, payload] = token.split('.');
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).not.toHaveProperty('exp');
    expect(await userClient(server.url, token)(VIEWER)).toEqual({ data: { viewer: { id: 'eternal-user', tenantId: null } } });
    const sent = await userClient(server.url, token)(SEND, { input: { text: 'Hello' } });
    expect(sent.errors).toBeUndefined();
    expect(sent.data.sendAgentMessage.run.id).toEqual(expect.any(String));
  });

  it('accepts the scheme case-insensitively ("bearer <jwt>")', async () => {
    const result = await graphqlWithHeader(server.url, `bearer ${await tokenFor('lower')}`, VIEWER);
    expect(result).toEqual({ data: { viewer: { id: 'lower', tenantId: null } } });
  });

  it('serves introspection without a token (GraphiQL fetches the schema first)', async () => {
    const result = await graphqlWithHeader(server.url, null, '{ __schema { queryType { name } } }');
    expect(result).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });

  it('closes a WebSocket with 4403 at connection_init for a missing, malformed, badly signed, expired or sub-less token', async () => {
    for (const [label, authorization] of bad) {
      const client = wsClient(server.url, null, {
        lazy: false,
        onNonLazyError: () => undefined,
        connectionParams: authorization === null ? {} : { authorization },
      });
      const code = await closeCodeOf(client);
      await client.dispose();
      expect(code, label).toBe(4403);
    }
  });

  it("checks a token's signature once for all the requests and sockets it comes with", async () => {
    const checks = async () => ({
      verified: await metricValue(server.url, 'agent_gateway_token_checks_total', { check: 'verified' }),
      cached: await metricValue(server.url, 'agent_gateway_token_checks_total', { check: 'cached' }),
    });
    const token = await tokenFor(`cached-${Date.now()}`);
    const before = await checks();
    const gql = userClient(server.url, token);
    const sent = await gql(SEND, { input: { text: 'Hello there' } });
    const { conversation, afterSeq } = sent.data.sendAgentMessage;
    for (let request = 0; request < 3; request += 1) expect((await gql(VIEWER)).errors).toBeUndefined();
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: conversation.id, afterSeq });
    await recorder.untilTerminals(1);
    recorder.stop();
    await client.dispose();
    const after = await checks();
    // The send, three queries and a socket: one verification, four trusted from it.
    expect(after.verified - before.verified).toBe(1);
    expect(after.cached - before.cached).toBe(4);
  });

  it('closes an open WebSocket with 4403 when its token expires; a fresh token resumes with afterSeq', async () => {
    const gql = userClient(server.url, await tokenFor('expiring-user'));
    const first = await gql(SEND, { input: { text: 'Hello there' } });
    expect(first.errors).toBeUndefined();
    const { conversation, afterSeq } = first.data.sendAgentMessage;

    const shortLived = wsClient(server.url, await tokenFor('expiring-user', { expiresIn: 2 }));
    const closed = closeCodeOf(shortLived);
    const before = new EventRecorder(shortLived, { conversationId: conversation.id, afterSeq });
    await before.untilTerminals(1);
    expect(await closed).toBe(4403);
    await before.untilEnded();
    await shortLived.dispose();
    const seen = before.events.map((event) => event.seq);
    const lastSeen = seen.at(-1)!;
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, index) => afterSeq + 1 + index));

    // Events appended while the client was away.
    const second = await gql(SEND, { input: { text: 'Are you still there?', conversationId: conversation.id } });
    expect(second.errors).toBeUndefined();
    expect(second.data.sendAgentMessage.afterSeq).toBe(lastSeen);

    const refreshed = wsClient(server.url, await tokenFor('expiring-user', { expiresIn: 600 }));
    const after = new EventRecorder(refreshed, { conversationId: conversation.id, afterSeq: lastSeen });
    const resumed = await after.untilTerminals(1);
    after.stop();
    await refreshed.dispose();
    expect(resumed[0]?.seq).toBe(lastSeen + 1);
    expect(resumed.map((event) => event.seq)).toEqual(Array.from({ length: resumed.length }, (_, index) => lastSeen + 1 + index));
    expect(resumed[0]?.__typename).toBe('MessageCreated');
    expect(resumed.every((event) => event.runId === second.data.sendAgentMessage.run.id)).toBe(true);
    expect(resumed.at(-1)?.__typename).toBe('AgentCompleted');
  });

  it('does not serve POST /auth/dev-token when a secret is configured', async () => {
    const response = await fetch(`${server.url}/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'sneaky' }),
    });
    expect(response.status).toBe(404);
    expect(await response.text()).not.toMatch(/"token"/);
  });
});

describe('authentication without a secret, outside production', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({}, { withoutSecret: true });
  });
  afterAll(() => server.close());

  const devToken = (body: string) => fetch(`${server.url}/auth/dev-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('serves POST /auth/dev-token with a token that works over HTTP and WebSocket', async () => {
    const response = await devToken(JSON.stringify({ userId: 'dev-user', tenantId: 'dev-tenant' }));
    expect(response.status).toBe(200);
    const { token } = (await response.json()) as { token: string };
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    expect(await userClient(server.url, token)(VIEWER)).toEqual({ data: { viewer: { id: 'dev-user', tenantId: 'dev-tenant' } } });

    const client = wsClient(server.url, token);
    const results = [];
    for await (const result of client.iterate({ query: VIEWER })) results.push(result);
    await client.dispose();
    expect(results).toEqual([{ data: { viewer: { id: 'dev-user', tenantId: 'dev-tenant' } } }]);
  });

  it('signs with a secret of its own: a token signed with the test secret is rejected', async () => {
    const result = await userClient(server.url, await tokenFor('outsider'))(VIEWER);
    expect(result.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
  });

  it('answers 400 to a bad dev-token body', async () => {
    const bodies = [
      'not json',
      '',
      'null',
      '[]',
      '{}',
      JSON.stringify({ userId: '' }),
      JSON.stringify({ userId: 42 }),
      JSON.stringify({ userId: 'x'.repeat(129) }),
      JSON.stringify({ userId: 'ok', tenantId: 7 }),
    ];
    for (const body of bodies) {
      const response = await devToken(body);
      expect(response.status, body).toBe(400);
      expect(await response.text(), body).not.toMatch(/"token"/);
    }
  });
});

describe.concurrent('refusing to start unsafely', () => {
  it('refuses to start in production without AUTH_JWT_SECRET, saying why', async () => {
    const gateway = spawnGateway({ NODE_ENV: 'production', PORT: '0' });
    const exit = await gateway.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(gateway.output()).toContain('AUTH_JWT_SECRET is required');
    expect(gateway.output()).not.toMatch(/listening/);
  });

  it('refuses to start with a secret shorter than 32 characters', async () => {
    const gateway = spawnGateway({ NODE_ENV: 'production', PORT: '0', AUTH_JWT_SECRET: 'x'.repeat(31) });
    const exit = await gateway.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(gateway.output()).toMatch(/AUTH_JWT_SECRET must be at least 32 characters/);
  });
});
