/**
 * Parsed documents, and refused ones, are kept for reuse only up to DOCUMENT_CACHE_BYTES (of
 * source) together, however many distinct documents clients send: one-off documents cannot grow
 * the heap without bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { httpGraphQL, tokenFor, wsClient } from '../support/clients.ts';
import { metricValue } from '../support/metrics.ts';
import { startTestServer } from '../support/server.ts';

describe('the parsed-document cache', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ DOCUMENT_CACHE_BYTES: '3000' });
  });
  afterAll(() => server.close());

  it('keeps at most DOCUMENT_CACHE_BYTES of documents, dropping the least recently used', async () => {
    const token = await tokenFor('many-documents');
    const cached = () => metricValue(server.url, 'agent_gateway_document_cache_bytes');
    for (let n = 0; n < 10; n += 1) {
      // Distinct documents of about 1,000 characters each.
      const query = `# document ${n} ${'.'.repeat(1000)}\n{ viewer { id } }`;
      const response = await httpGraphQL(server.url, query, {}, token);
      expect(response.data?.viewer.id).toBe('many-documents');
    }
    expect(await cached()).toBeGreaterThan(2000);
    expect(await cached()).toBeLessThanOrEqual(3000);
  });

  it('counts refused documents within the same bound, over HTTP and WebSocket', async () => {
    // A server of its own, which only ever sees refused documents.
    const refusing = await startTestServer({ DOCUMENT_CACHE_BYTES: '3000' });
    const token = await tokenFor('many-refusals');
    const cached = () => metricValue(refusing.url, 'agent_gateway_document_cache_bytes');
    const client = wsClient(refusing.url, token);
    for (let n = 0; n < 10; n += 1) {
      // Distinct documents of about 1,000 characters each that do not parse.
      const query = `# refused ${n} ${'.'.repeat(1000)}\n{ viewer { id `;
      const response = await httpGraphQL(refusing.url, query, {}, token);
      expect(response.errors?.[0]?.message).toMatch(/^Syntax Error/);
      const errors = await new Promise<unknown>((resolve) =>
        client.subscribe({ query: `subscription ${query}` }, { next: () => {}, error: resolve, complete: () => resolve(null) }),
      );
      expect(errors).toEqual([expect.objectContaining({ message: expect.stringMatching(/^Syntax Error/) })]);
    }
    expect(await cached()).toBeGreaterThan(2000);
    expect(await cached()).toBeLessThanOrEqual(3000);
    await client.dispose();
    await refusing.close();
  });
});
