/**
 * The memory stores copy a record once, when it is written, and hand readers the stored record
 * itself: reads copy nothing (the same object each time), yet neither a writer that changes what
 * it passed in nor a reader can change what is stored, and an update stores a new record.
 */
import { describe, expect, it, vi } from 'vitest';
import { MemoryConversationStore } from '../../src/store/memory/conversations.ts';
import { MemoryEventLog } from '../../src/store/memory/event-log.ts';
import { MemoryRunStore } from '../../src/store/memory/runs.ts';
import { DEFAULT_RETENTION, helloRun, helloSend, token } from '../contract/worlds.ts';

describe('memory records', () => {
  it('stamps a batch of events with one time, however long appending it takes', async () => {
    // A clock that has moved on whenever it is read, as it may have between two events of a batch.
    let ms = Date.UTC(2030, 0, 1);
    const log = new MemoryEventLog(DEFAULT_RETENTION, () => (ms += 1));
    const batch = await log.appendBatch(['x', 'y', 'z'].map((delta) => token('c1', delta)));
    expect(new Set(batch.map((event) => event.timestamp)).size).toBe(1);
    const [next] = await log.appendBatch([token('c1', 'later')]);
    expect(next!.timestamp > batch[0]!.timestamp).toBe(true);
  });

  it('stores a run once and reads it without copying, deeply frozen', async () => {
    const runs = new MemoryRunStore();
    const run = helloRun('c1', { input: { text: 'hi', surface: 'HOME', projectId: null, context: { files: [{ name: 'a.csv', content: 'x' }] } } });
    runs.createSync(run);
    (run.input.context as { files: { name: string }[] }).files[0]!.name = 'changed';
    const clone = vi.spyOn(globalThis, 'structuredClone');
    try {
      const [first, second, listed] = [await runs.get(run.id), await runs.get(run.id), (await runs.listLast('c1', 5))[0]];
      expect(clone).not.toHaveBeenCalled();
      expect(first === second && second === listed).toBe(true);
      expect(first!.input.context).toEqual({ files: [{ name: 'a.csv', content: 'x' }] });
      expect(() => ((first!.input.context as { files: { name: string }[] }).files[0]!.name = 'mutated')).toThrow(TypeError);
      expect(() => (first!.status = 'RUNNING')).toThrow(TypeError);
    } finally {
      clone.mockRestore();
    }
  });

  it('stores a transition as a new record, leaving what readers hold as it was', async () => {
    const runs = new MemoryRunStore();
    const run = helloRun('c1');
    runs.createSync(run);
    const before = (await runs.get(run.id))!;
    const error = { code: 'TIMEOUT', message: 'too slow', retryable: true };
    const after = await runs.transition(run.id, ['QUEUED'], { status: 'FAILED', error });
    error.message = 'changed';
    expect(before.status).toBe('QUEUED');
    expect(after).toMatchObject({ status: 'FAILED', error: { message: 'too slow' } });
    expect(await runs.get(run.id)).toBe(after);
    expect(Object.isFrozen(after!.error)).toBe(true);
  });

  it('reads a conversation without copying and stores a touch as a new record', async () => {
    const conversations = new MemoryConversationStore();
    const { conversation } = helloSend(helloRun('c1'));
    const created = conversations.createIfAbsentSync(conversation).conversation;
    conversation.owner.userId = 'changed';
    const read = await conversations.get('c1');
    expect(read).toBe(created);
    expect(read!.owner.userId).toBe('someone');
    expect(conversations.createIfAbsentSync({ ...conversation, title: 'other' })).toEqual({ conversation: created, created: false });
    expect((await conversations.listForOwner({ userId: 'someone', tenantId: null }, 10))[0]).toBe(created);
    const later = new Date(Date.parse(created.updatedAt) + 1000).toISOString();
    conversations.touchSync('c1', later, 'A title');
    expect(created).toMatchObject({ title: null, updatedAt: conversation.updatedAt });
    expect(await conversations.get('c1')).toMatchObject({ title: 'A title', updatedAt: later });
    conversations.touchSync('c1', created.updatedAt, 'Another');
    expect(await conversations.get('c1')).toMatchObject({ title: 'A title', updatedAt: later });
  });
});
