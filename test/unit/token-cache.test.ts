/**
 * Verified tokens are trusted from the cache (AUTH_TOKEN_CACHE_MS), counted, and never past
 * their exp nor past the cache's bound: the clock is faked so that expiry is reached, not waited for.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Authenticator, type AuthSettings, type TokenCheck } from '../../src/experience/auth.ts';

const settings = (tokenCacheMs: number): AuthSettings => ({
  secret: 'a-secret-that-is-at-least-32-characters-long',
  devSecret: false,
  algorithms: ['RS256'],
  tenantClaim: 'tid',
  tokenCacheMs,
});

describe('the verified-token cache', () => {
  let checks: TokenCheck[];
  const authenticator = (tokenCacheMs: number) => new Authenticator(settings(tokenCacheMs), pino({ level: 'silent' }), (check) => checks.push(check));

  beforeEach(() => {
    checks = [];
    vi.useFakeTimers({ now: new Date('2026-12-04T12:00:00Z') });
  });
  afterEach(() => vi.useRealTimers());

  it('verifies a token once for every request it comes with, and gives each the same principal', async () => {
    const auth = authenticator(60_000);
    const token = await auth.issue({ userId: 'u1', tenantId: 't1' }, 3600);
    const principals = [];
    for (let request = 0; request < 5; request += 1) principals.push(await auth.authenticate(`Bearer ${token}`));
    expect(checks).toEqual(['verified', 'cached', 'cached', 'cached', 'cached']);
    expect(new Set(principals.map((principal) => JSON.stringify(principal))).size).toBe(1);
    expect(principals[0]).toMatchObject({ userId: 'u1', tenantId: 't1' });
  });

  it('checks the signature again once the cache bound has passed', async () => {
    const auth = authenticator(1000);
    const token = await auth.issue({ userId: 'u2', tenantId: null }, 3600);
    await auth.authenticate(`Bearer ${token}`);
    vi.advanceTimersByTime(1001);
    await auth.authenticate(`Bearer ${token}`);
    expect(checks).toEqual(['verified', 'verified']);
  });

  it('never trusts a token past its exp, whatever the cache bound', async () => {
    const auth = authenticator(3_600_000);
    const token = await auth.issue({ userId: 'u3', tenantId: null }, 60);
    await auth.authenticate(`Bearer ${token}`);
    vi.advanceTimersByTime(61_000);
    await expect(auth.authenticate(`Bearer ${token}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'The token has expired.' });
    expect(checks).toEqual(['verified']);
  });

  it('keeps tokens apart: another token, even of the same user, is verified on its own', async () => {
    const auth = authenticator(60_000);
    const first = await auth.issue({ userId: 'u4', tenantId: null }, 3600);
    // The signature's first character carries only signed bits (its last may carry padding).
    const signatureAt = first.lastIndexOf('.') + 1;
    const tampered = `${first.slice(0, signatureAt)}${first[signatureAt] === 'A' ? 'B' : 'A'}${first.slice(signatureAt + 1)}`;
    await auth.authenticate(`Bearer ${first}`);
    await expect(auth.authenticate(`Bearer ${tampered}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(checks).toEqual(['verified']);
  });

  it('with AUTH_TOKEN_CACHE_MS=0 verifies every request', async () => {
    const auth = authenticator(0);
    const token = await auth.issue({ userId: 'u5', tenantId: null }, 3600);
    await auth.authenticate(`Bearer ${token}`);
    await auth.authenticate(`Bearer ${token}`);
    expect(checks).toEqual(['verified', 'verified']);
  });
});
