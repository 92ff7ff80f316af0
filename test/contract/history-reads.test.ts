/**
 * A run's history read on the Redis store: the newest messages of a conversation read lately are
 * kept, and the next read asks Redis only for what was stored since (counted in messages parsed),
 * with the answer a read of the whole history gives in every case: more messages since, a read
 * through an older message, a read of more messages than were kept, and a conversation deleted
 * and begun again under the same id (whose kept messages must never be handed out again). On one
 * Redis and on a Redis Cluster, where the check and the read are in the conversation's slot.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MessageRecord } from '../../src/domain/records.ts';
import type { Backend } from '../../src/store/interfaces.ts';
import { createRedisBackend, type RedisTarget } from '../../src/store/redis/index.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import { startRedis } from '../support/redis-server.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION } from './worlds.ts';

const HISTORY = 20;

/** The seqs from `from` to `to`, both included. */
const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function message(conversationId: string, seq: number): MessageRecord {
  return {
    id: randomUUID(),
    conversationId,
    role: 'USER',
    text: `message ${seq}`,
    agentId: null,
    runId: null,
    seq,
    createdAt: new Date(Date.UTC(2030, 0, 1) + seq).toISOString(),
  };
}

describe.each([
  { name: 'one Redis', start: async () => startRedis().then((redis) => ({ target: redis.url as RedisTarget, stop: () => redis.stop() })) },
  {
    name: 'a Redis Cluster',
    start: async () => startRedisCluster().then((cluster) => ({ target: { clusterNodes: cluster.urls } as RedisTarget, stop: () => cluster.stop() })),
  },
])("a run's history read on $name", ({ start }) => {
  let redis: { target: RedisTarget; stop(): Promise<void> };
  let reader: Backend;
  let writer: Backend;

  beforeAll(async () => {
    redis = await start();
    const keyPrefix = `history-${randomUUID()}:`;
    const open = () => createRedisBackend(redis.target, { ...BACKEND_SETTINGS, retention: DEFAULT_RETENTION, keyPrefix });
    [reader, writer] = await Promise.all([open(), open()]);
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => {
    await Promise.all([reader?.close(), writer?.close()]);
    await redis?.stop();
  });

  /** Stores messages of the given seqs through the other instance, as another gateway would. */
  const store = async (conversationId: string, seqs: number[]) => {
    const stored = seqs.map((seq) => message(conversationId, seq));
    for (const each of stored) await writer.messages.add(each);
    return stored;
  };

  /** The reader's history read through `messageId`, and how many messages it parsed for it. */
  const read = async (conversationId: string, last: number, messageId: string) => {
    const parse = vi.spyOn(JSON, 'parse');
    const history = await reader.messages.listLastThrough(conversationId, last, messageId);
    const parsed = parse.mock.calls.filter(([text]) => typeof text === 'string' && text.includes(`"conversationId":"${conversationId}"`)).length;
    parse.mockRestore();
    return { history, parsed };
  };

  /** What a read of the whole history answers (no messages kept: the store of record's ZRANGE). */
  const whole = (conversationId: string, last: number, throughSeq?: number) => writer.messages.listLast(conversationId, last, throughSeq);

  it('reads only the messages stored since its last read, and answers as a read of the whole history', async () => {
    const conversationId = randomUUID();
    const stored = await store(conversationId, seqs(1, 50));
    const first = await read(conversationId, HISTORY, stored[49]!.id);
    expect(first.parsed).toBe(HISTORY);
    expect(first.history).toEqual(await whole(conversationId, HISTORY));
    // A run's own reply and the next message, then the next run's history.
    const [reply, next] = await store(conversationId, [51, 52]);
    const second = await read(conversationId, HISTORY, next!.id);
    expect(second.parsed).toBe(2);
    expect(second.history).toEqual(await whole(conversationId, HISTORY));
    expect(second.history.slice(-2)).toEqual([reply, next]);
    // Nothing stored since: nothing to parse.
    const again = await read(conversationId, HISTORY, next!.id);
    expect(again.parsed).toBe(0);
    expect(again.history).toEqual(second.history);
  });

  it('answers a read through an older message, and one of more messages than it kept, from the whole history', async () => {
    const conversationId = randomUUID();
    const stored = await store(conversationId, seqs(1, 40));
    await read(conversationId, HISTORY, stored[39]!.id);
    // A run queued behind others reads through its own message, older than the newest kept.
    expect((await read(conversationId, HISTORY, stored[29]!.id)).history).toEqual(await whole(conversationId, HISTORY, 30));
    // A read after that one reads on from it.
    expect((await read(conversationId, HISTORY, stored[39]!.id)).history).toEqual(await whole(conversationId, HISTORY, 40));
    const longer = await read(conversationId, 30, stored[39]!.id);
    expect(longer.history).toEqual(await whole(conversationId, 30));
    expect(longer.parsed).toBe(30);
    // Fewer than kept: from what is kept.
    const shorter = await read(conversationId, 5, stored[39]!.id);
    expect(shorter.history).toEqual(await whole(conversationId, 5));
    expect(shorter.parsed).toBe(0);
  });

  it('keeps no hole when a short read follows more messages than it asks for', async () => {
    const conversationId = randomUUID();
    const first = await store(conversationId, seqs(1, 20));
    await read(conversationId, HISTORY, first[19]!.id);
    const more = await store(conversationId, seqs(21, 45));
    expect((await read(conversationId, 5, more[24]!.id)).history).toEqual(await whole(conversationId, 5));
    // What was kept for the longer read is still the last 20, not the 5 after 15 older ones.
    expect((await read(conversationId, HISTORY, more[24]!.id)).history).toEqual(await whole(conversationId, HISTORY));
  });

  it('never hands out the messages of a conversation deleted since, even when it was begun again under the same id', async () => {
    const conversationId = randomUUID();
    const begin = () =>
      writer.conversations.createIfAbsent({
        id: conversationId,
        owner: { userId: 'alice', tenantId: null },
        title: null,
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
      });
    await begin();
    const before = await store(conversationId, [1, 2, 3]);
    expect((await read(conversationId, HISTORY, before[2]!.id)).history).toEqual(before);
    // Deleted, then begun again: other messages under the same seqs, and one more.
    expect(await writer.deleteConversation(conversationId)).not.toBeNull();
    await begin();
    const after = await store(conversationId, [1, 2, 3, 4]);
    const reread = await read(conversationId, HISTORY, after[3]!.id);
    expect(reread.history).toEqual(after);
    expect(reread.parsed).toBe(4);
    // Deleted and not begun again: nothing.
    expect(await writer.deleteConversation(conversationId)).not.toBeNull();
    expect((await read(conversationId, HISTORY, after[3]!.id)).history).toEqual([]);
  });
});
