/**
 * Browsers across origins: CORS allows only the configured origins (by default none but the
 * gateway's own), and a request a browser could send cross-site without a preflight (a simple
 * GET or form POST) is refused unless it carries the bearer token or yoga's CSRF header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { tokenFor } from '../support/clients.ts';
import { startTestServer } from '../support/server.ts';

const APP = 'https://app.example';
const EVIL = 'https://evil.example';

const preflight = (url: string, origin: string) =>
  fetch(`${url}/graphql`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });

describe('browsers across origins', () => {
  let sameOrigin: RunningServer;
  let withApp: RunningServer;
  beforeAll(async () => {
    [sameOrigin, withApp] = await Promise.all([startTestServer(), startTestServer({ CORS_ALLOWED_ORIGINS: `${APP}, https://admin.example` })]);
  });
  afterAll(() => Promise.all([sameOrigin.close(), withApp.close()]));

  it('allows no other origin by default', async () => {
    const response = await preflight(sameOrigin.url, APP);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows exactly the configured origins', async () => {
    expect((await preflight(withApp.url, APP)).headers.get('access-control-allow-origin')).toBe(APP);
    expect((await preflight(withApp.url, EVIL)).headers.get('access-control-allow-origin')).not.toBe(EVIL);
    const token = await tokenFor('cors-user');
    const answered = await fetch(`${withApp.url}/graphql`, {
      method: 'POST',
      headers: { origin: APP, 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect(answered.headers.get('access-control-allow-origin')).toBe(APP);
    expect(await answered.json()).toEqual({ data: { viewer: { id: 'cors-user' } } });
  });

  it('refuses requests a browser sends cross-site without asking first', async () => {
    const token = await tokenFor('csrf-user');
    const mutation = 'mutation { sendAgentMessage(input: {text: "forged", conversationId: "forged"}) { afterSeq } }';
    const simpleGet = await fetch(`${sameOrigin.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(simpleGet.status).toBe(403);
    const form = await fetch(`${sameOrigin.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: mutation }).toString(),
    });
    expect(form.status).toBe(403);
    const plain = await fetch(`${sameOrigin.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: mutation }),
    });
    expect(plain.status).toBe(403);
    // What real clients send passes: a JSON body, or the bearer token (or yoga's header) on a GET.
    const json = await fetch(`${sameOrigin.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await json.json()).toEqual({ data: { __typename: 'Query' } });
    const query = encodeURIComponent('{ conversation(id: "forged") { id } }');
    const withToken = await fetch(`${sameOrigin.url}/graphql?query=${query}`, { headers: { authorization: `Bearer ${token}` } });
    expect(await withToken.json()).toEqual({ data: { conversation: null } });
    const withHeader = await fetch(`${sameOrigin.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(withHeader.status).toBe(200);
  });
});
