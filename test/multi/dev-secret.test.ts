/**
 * Outside production without AUTH_JWT_SECRET, instances on one Redis share one dev secret, so a
 * dev token from one is good on every other; `npm run token` signs with the secret the gateways
 * verify with (the configured one, or that shared dev secret).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { userClient } from '../support/clients.ts';
import { PROJECT_ROOT, spawnGateway } from '../support/process.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { TEST_SECRET, startTestServer } from '../support/server.ts';

const VIEWER = 'query { viewer { id tenantId } }';

/** `npm run token -- …args` with exactly `env`, as a user would type it. */
async function npmToken(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('npm', ['run', '--silent', 'token', '--', ...args], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', NODE_ENV: 'development', ...env },
    });
    return { code: 0, stdout: stdout.trim(), stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout.trim(), stderr: failed.stderr };
  }
}

describe('one dev secret per Redis', () => {
  let redis: TestRedis;
  let first: RunningServer;
  let second: RunningServer;
  const shared: Record<string, string> = {};
  beforeAll(async () => {
    redis = await startRedis();
    Object.assign(shared, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `dev-secret-${randomUUID()}:` });
    [first, second] = await Promise.all([startTestServer(shared, { withoutSecret: true }), startTestServer(shared, { withoutSecret: true })]);
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await redis?.stop();
  });

  it('a dev token from one instance is accepted by another', async () => {
    const response = await fetch(`${first.url}/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'traveller' }),
    });
    const { token } = (await response.json()) as { token: string };
    expect(await userClient(second.url, token)(VIEWER)).toEqual({ data: { viewer: { id: 'traveller', tenantId: null } } });
  });

  it('npm run token signs with the shared dev secret, with the tenant and lifetime asked for', async () => {
    const result = await npmToken(['--sub', 'alice', '--tid', 'acme', '--ttl', '2h'], shared);
    expect(result.code, result.stderr).toBe(0);
    expect(await userClient(second.url, result.stdout)(VIEWER)).toEqual({ data: { viewer: { id: 'alice', tenantId: 'acme' } } });
    const claims = decodeJwt(result.stdout);
    expect(claims.exp! - claims.iat!).toBe(7200);
  });

  it('a deployment under another key prefix has a dev secret of its own', async () => {
    const other = await startTestServer({ ...shared, REDIS_KEY_PREFIX: `dev-secret-${randomUUID()}:` }, { withoutSecret: true });
    try {
      const result = await npmToken(['--sub', 'alice'], shared);
      expect((await userClient(other.url, result.stdout)(VIEWER)).errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    } finally {
      await other.close();
    }
  });
});

it('an instance without a secret refuses to start, saying why, when Redis does not answer to share one', async () => {
  const gateway = spawnGateway({ NODE_ENV: 'development', PORT: '0', REDIS_URL: 'redis://127.0.0.1:1' });
  expect(await gateway.exited).toEqual({ code: 1, signal: null });
  expect(gateway.output()).toContain('Start Redis, or set AUTH_JWT_SECRET');
});

describe('npm run token', () => {
  it('signs with AUTH_JWT_SECRET, for one hour unless told', async () => {
    const result = await npmToken(['--sub', 'bob'], { AUTH_JWT_SECRET: TEST_SECRET });
    expect(result.code, result.stderr).toBe(0);
    const { payload } = await jwtVerify(result.stdout, new TextEncoder().encode(TEST_SECRET));
    expect(payload).toMatchObject({ sub: 'bob' });
    expect(payload['tid']).toBeUndefined();
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('refuses, saying why, without a secret it could share with a gateway, without --sub, or with a bad --ttl', async () => {
    const alone = await npmToken(['--sub', 'bob'], {});
    expect(alone.code).toBe(1);
    expect(alone.stdout).toBe('');
    expect(alone.stderr).toContain('POST /auth/dev-token');

    const anonymous = await npmToken([], { AUTH_JWT_SECRET: TEST_SECRET });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain('--sub is required');

    const badTtl = await npmToken(['--sub', 'bob', '--ttl', 'soon'], { AUTH_JWT_SECRET: TEST_SECRET });
    expect(badTtl.code).toBe(1);
    expect(badTtl.stdout).toBe('');
    expect(badTtl.stderr).toContain('--ttl soon');
  });
});
