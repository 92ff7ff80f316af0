/**
 * Tokens from an identity provider, verified with the keys it publishes at its JWKS URL. The
 * provider is a real local HTTP server publishing real keys, which the tests rotate and stop.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { httpGraphQL, tokenFor } from '../support/clients.ts';
import { RawGraphQLSocket } from '../support/raw-ws.ts';
import { startTestServer } from '../support/server.ts';

const ISSUER = 'https://idp.example/';
const AUDIENCE = 'agent-gateway';

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A stand-in identity provider: publishes `keys` at /jwks.json and counts the fetches. */
class KeyServer {
  keys: SigningKey[] = [];
  fetches = 0;
  private readonly server: Server = createServer((_request, response) => {
    this.fetches += 1;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: this.keys.map((key) => key.jwk) }));
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
  }

  async stop(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeAllConnections();
    await closed;
  }
}

function tokenSignedWith(key: SigningKey, claims: { sub?: string; iss?: string; aud?: string; org_id?: string } = {}) {
  const { sub = 'idp-user', iss = ISSUER, aud = AUDIENCE, ...rest } = claims;
  return new SignJWT(rest)
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setSubject(sub)
    .setIssuer(iss)
    .setAudience(aud)
    .setExpirationTime('1h')
    .sign(key.privateKey);
}

const viewer = async (url: string, token: string) => httpGraphQL(url, '{ viewer { id tenantId } }', {}, token);
const codeOf = (result: Awaited<ReturnType<typeof viewer>>) => result.errors?.[0]?.extensions?.['code'];

/** connection_init with the token: resolves with the viewer's id, or the close code. */
async function overWebSocket(url: string, token: string): Promise<string | number> {
  const raw = new RawGraphQLSocket(url);
  await raw.opened();
  raw.sendJson({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
  const first = await raw.nextMessage().catch(async () => (await raw.closed).code);
  if (typeof first === 'number') return first;
  raw.sendJson({ id: 'v', type: 'subscribe', payload: { query: '{ viewer { id } }' } });
  const answer = await raw.nextMessage((message: any) => message.id === 'v');
  raw.close();
  await raw.closed;
  return answer.payload.data.viewer.id;
}

describe('tokens from an identity provider (JWKS)', () => {
  const provider = new KeyServer();
  let first: SigningKey;
  let rotated: SigningKey;
  let gateway: RunningServer;

  beforeAll(async () => {
    [first, rotated] = await Promise.all([signingKey('key-1', 'RS256'), signingKey('key-2', 'ES256')]);
    provider.keys = [first];
    const url = await provider.start();
    gateway = await startTestServer({
      AUTH_JWKS_URL: url,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_TENANT_CLAIM: 'org_id',
      // Ask the provider before every verification, so that the test sees each fetch succeed or fail.
      AUTH_JWKS_CACHE_MS: '0',
      AUTH_JWKS_COOLDOWN_MS: '0',
    });
  });
  afterAll(() => gateway.close());

  it("accepts the provider's tokens with their issuer, audience and tenant claim, over HTTP and WebSocket", async () => {
    const token = await tokenSignedWith(first, { sub: 'alice', org_id: 'acme' });
    expect(await viewer(gateway.url, token)).toEqual({ data: { viewer: { id: 'alice', tenantId: 'acme' } } });
    expect(await overWebSocket(gateway.url, token)).toBe('alice');
    // The shared secret still works beside the provider.
    expect((await viewer(gateway.url, await tokenFor('bob'))).data.viewer.id).toBe('bob');
  });

  it('refuses a wrong issuer, a wrong audience, an algorithm not accepted and an unknown key', async () => {
    const unaccepted = await signingKey('key-ps', 'PS256');
    const stranger = await signingKey('key-x', 'ES256');
    provider.keys = [first, unaccepted];
    for (const token of [
      await tokenSignedWith(first, { iss: 'https://elsewhere.example/' }),
      await tokenSignedWith(first, { aud: 'another-service' }),
      await tokenSignedWith(unaccepted),
      await tokenSignedWith(stranger),
    ]) {
      expect(codeOf(await viewer(gateway.url, token))).toBe('UNAUTHENTICATED');
      expect(await overWebSocket(gateway.url, token)).toBe(4403);
    }
  });

  it('picks up a rotated key', async () => {
    provider.keys = [first, rotated];
    expect((await viewer(gateway.url, await tokenSignedWith(rotated, { sub: 'carol' }))).data.viewer.id).toBe('carol');
  });

  it('keeps verifying known keys while the provider is unreachable, and refuses unknown ones', async () => {
    await provider.stop();
    expect((await viewer(gateway.url, await tokenSignedWith(rotated, { sub: 'dave' }))).data.viewer.id).toBe('dave');
    expect(await overWebSocket(gateway.url, await tokenSignedWith(first, { sub: 'erin' }))).toBe('erin');
    const unknown = await tokenSignedWith(await signingKey('key-3', 'ES256'));
    expect(codeOf(await viewer(gateway.url, unknown))).toBe('UNAUTHENTICATED');
    expect(await overWebSocket(gateway.url, unknown)).toBe(4403);
  });
});

describe('unknown key ids', () => {
  it('make the gateway fetch the key set again at most once per AUTH_JWKS_COOLDOWN_MS', async () => {
    const provider = new KeyServer();
    const known = await signingKey('known', 'RS256');
    provider.keys = [known];
    const gateway = await startTestServer({ AUTH_JWKS_URL: await provider.start(), AUTH_JWKS_COOLDOWN_MS: '600000' });
    try {
      expect((await viewer(gateway.url, await tokenSignedWith(known))).data.viewer.id).toBe('idp-user');
      expect(provider.fetches).toBe(1);
      for (let index = 0; index < 20; index += 1) {
        const madeUp = await tokenSignedWith(await signingKey(`made-up-${index}`, 'ES256'));
        expect(codeOf(await viewer(gateway.url, madeUp))).toBe('UNAUTHENTICATED');
      }
      expect(provider.fetches).toBe(1);
    } finally {
      await gateway.close();
      await provider.stop();
    }
  });
});
