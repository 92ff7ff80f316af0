/**
 * Parsed documents are kept for reuse only up to DOCUMENT_CACHE_BYTES (of source), however many
 * distinct documents clients send: one-off documents cannot grow the heap without bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { httpGraphQL, tokenFor } from '../support/clients.ts';
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
});
