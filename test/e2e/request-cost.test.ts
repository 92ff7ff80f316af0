/**
 * What a small GraphQL request over HTTP makes the server do, counted: work repeated on every
 * request costs every send and every query, however small.
 */
import { Lexer, TypeInfo } from 'graphql';
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

  it('is parsed and validated once however often the same document comes', async () => {
    const token = await tokenFor('request-cost');
    // Reading a token is what parsing is; validation walks the document with a TypeInfo.
    const tokensRead = vi.spyOn(Lexer.prototype, 'advance');
    const nodesValidated = vi.spyOn(TypeInfo.prototype, 'enter');
    const query = '{ viewer { id } conversations(first: 1) { id } }';
    await httpGraphQL(server.url, query, {}, token);
    expect(tokensRead).toHaveBeenCalled();
    expect(nodesValidated).toHaveBeenCalled();
    tokensRead.mockClear();
    nodesValidated.mockClear();
    for (let n = 0; n < 10; n += 1) expect((await httpGraphQL(server.url, query, {}, token)).errors).toBeUndefined();
    expect(tokensRead).not.toHaveBeenCalled();
    expect(nodesValidated).not.toHaveBeenCalled();
  });
});
