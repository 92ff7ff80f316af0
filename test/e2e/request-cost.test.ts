/**
 * What a small GraphQL request over HTTP makes the server do, counted: work repeated on every
 * request costs every send and every query, however small.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { httpGraphQL, tokenFor } from '../support/clients.ts';
import { startTestServer } from '../support/server.ts';

describe('a small GraphQL request over HTTP', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());
  afterEach(() => vi.restoreAllMocks());

  it('is not piped through a stream that counts its bytes: its declared length was checked already', async () => {
    const token = await tokenFor('request-cost');
    await httpGraphQL(server.url, '{ __typename }', {}, token);
    // Such a pipe ends by aborting its AbortController, which makes a DOMException with its stack.
    const aborts = vi.spyOn(AbortController.prototype, 'abort');
    for (let n = 0; n < 10; n += 1) {
      expect((await httpGraphQL(server.url, '{ viewer { id } }', {}, token)).data).toEqual({ viewer: { id: 'request-cost' } });
    }
    expect(aborts).not.toHaveBeenCalled();
  });
});
