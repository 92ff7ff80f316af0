/**
 * Signing in. In development the gateway has no configured secret and hands out tokens at
 * `POST /auth/dev-token`; the page signs in there as the user id kept in localStorage (a new
 * guest id the first time). Where that endpoint is absent (production), the page asks for a
 * token to paste instead.
 */
const USER_KEY = 'agent-gateway.userId';
const TOKEN_KEY = 'agent-gateway.token';

export interface Session {
  userId: string;
  token: string;
  /** How the token was had: from the dev-token endpoint (renewable) or pasted. */
  source: 'dev' | 'pasted';
}

export class DevTokenUnavailable extends Error {}

export function rememberedUserId(): string {
  let userId = localStorage.getItem(USER_KEY);
  if (!userId) {
    userId = `guest-${Math.random().toString(36).slice(2, 8)}`;
    localStorage.setItem(USER_KEY, userId);
  }
  return userId;
}

export async function devSignIn(userId: string): Promise<Session> {
  const response = await fetch('/auth/dev-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  if (response.status === 404 || response.status === 405) {
    throw new DevTokenUnavailable('This gateway does not hand out development tokens: paste a token.');
  }
  const body = (await response.json().catch(() => ({}))) as { token?: string; error?: string };
  if (!response.ok || !body.token) throw new Error(body.error ?? `Sign-in failed (HTTP ${response.status}).`);
  localStorage.setItem(USER_KEY, userId);
  return { userId, token: body.token, source: 'dev' };
}

/** A pasted JWT: its `sub` names the user. */
export function pastedSession(token: string): Session {
  const payload = token.split('.')[1];
  let userId = 'unknown user';
  try {
    const claims = JSON.parse(atob((payload ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    if (typeof claims.sub === 'string') userId = claims.sub;
  } catch {
    throw new Error('That is not a JWT.');
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  return { userId, token, source: 'pasted' };
}

export function rememberedPastedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetPastedToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
