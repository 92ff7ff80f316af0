import { describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore } from '../../src/store/memory/idempotency.ts';

const first = { conversationId: 'c1', messageId: 'm1', runId: 'r1' };
const second = { conversationId: 'c2', messageId: 'm2', runId: 'r2' };

describe('MemoryIdempotencyStore expiry', () => {
  it('remembers a settled key for its TTL, then lets it be claimed afresh', async () => {
    let now = 0;
    const store = new MemoryIdempotencyStore(1000, () => now);
    await store.reserve('k', first);
    await store.settle('k');
    now = 999;
    expect(await store.reserve('k', second)).toEqual({ reserved: false, existing: first });
    now = 1000;
    expect(await store.reserve('k', second)).toEqual({ reserved: true });
  });

  it('frees a key whose claimant never settled nor released it after a minute', async () => {
    let now = 0;
    const store = new MemoryIdempotencyStore(24 * 3600 * 1000, () => now);
    await store.reserve('k', first);
    now = 59_999;
    expect((await store.reserve('k', second)).reserved).toBe(false);
    now = 60_000;
    expect((await store.reserve('k', second)).reserved).toBe(true);
    await expect(store.awaitSettled('k', 10)).rejects.toThrow(/pending/);
  });
});
