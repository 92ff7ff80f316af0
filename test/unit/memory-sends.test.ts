import { describe, expect, it } from 'vitest';
import { MemoryEventLog } from '../../src/store/memory/event-log.ts';
import { MemoryConversationStore } from '../../src/store/memory/conversations.ts';
import { MemoryRunLeases } from '../../src/store/memory/leases.ts';
import { MemoryMessageStore } from '../../src/store/memory/messages.ts';
import { MemoryRunQueue, MemoryRunStore } from '../../src/store/memory/runs.ts';
import { MemorySendStore } from '../../src/store/memory/sends.ts';
import { DEFAULT_RETENTION, helloRun, helloSend } from '../contract/worlds.ts';

describe('MemorySendStore idempotency keys', () => {
  it('remembers a key for its TTL, then lets a send with it be stored afresh', async () => {
    let now = 0;
    const runs = new MemoryRunStore();
    const sends = new MemorySendStore(
      {
        conversations: new MemoryConversationStore(),
        messages: new MemoryMessageStore(),
        runs,
        runQueue: new MemoryRunQueue(runs),
        leases: new MemoryRunLeases(),
        events: new MemoryEventLog(DEFAULT_RETENTION),
      },
      1000,
      () => now,
    );
    const keyed = () => ({ ...helloSend(helloRun('c1')), idempotencyKey: 'send:k' });
    const first = keyed();
    expect((await sends.commit(first)).outcome).toBe('stored');
    now = 999;
    expect(await sends.commit(keyed())).toEqual({
      outcome: 'repeated',
      stored: { conversationId: 'c1', messageId: first.message.id, runId: first.run.id },
    });
    now = 1000;
    expect((await sends.commit(keyed())).outcome).toBe('stored');
  });
});
