/**
 * A run's history read on the stores of record that keep what they read (Redis, PostgreSQL): the
 * newest messages of a conversation read lately are kept, and the next read asks the store only
 * for what was stored since (counted in messages taken in: parsed on Redis, rows on PostgreSQL),
 * with the answer a read of the whole history gives in every case: more messages since, a read
 * through an older message, a read of more messages than were kept, and a conversation deleted
 * and begun again under the same id (whose kept messages must never be handed out again). On one
 * Redis, on a Redis Cluster (where the check and the read are in the conversation's slot) and on
 * PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MessageRecord } from '../../src/domain/records.ts';
import type { ConversationStore, MessageStore } from '../../src/store/interfaces.ts';
import { createPostgresRecordStore } from '../../src/store/postgres/index.ts';
import { postgresPool, type Sql } from '../../src/store/postgres/sql.ts';
import { createRedisBackend, type RedisTarget } from '../../src/store/redis/index.ts';
import { startPostgres } from '../support/postgres-server.ts';
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

/** What the test needs of a store of record. */
interface Stores {
  messages: MessageStore;
  conversations: ConversationStore;
  deleteConversation(id: string): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Two instances on one store of record, and how many messages the reader takes in from the store
 * while `read` runs.
 */
interface Opened {
  reader: Stores;
  writer: Stores;
  takenIn(conversationId: string, read: () => Promise<MessageRecord[]>): Promise<{ history: MessageRecord[]; taken: number }>;
  stop(): Promise<void>;
}

/** On Redis a message read is parsed from its JSON: the JSON.parse calls with the conversation's messages are counted. */
async function onRedis(target: RedisTarget, stop: () => Promise<void>): Promise<Opened> {
  const keyPrefix = `history-${randomUUID()}:`;
  const open = () => createRedisBackend(target, { ...BACKEND_SETTINGS, retention: DEFAULT_RETENTION, keyPrefix });
  const [reader, writer] = await Promise.all([open(), open()]);
  return {
    reader,
    writer,
    async takenIn(conversationId, read) {
      const parse = vi.spyOn(JSON, 'parse');
      try {
        const history = await read();
        const taken = parse.mock.calls.filter(([text]) => typeof text === 'string' && text.includes(`"conversationId":"${conversationId}"`)).length;
        return { history, taken };
      } finally {
        parse.mockRestore();
      }
    },
    stop: async () => {
      await Promise.all([reader.close(), writer.close()]);
      await stop();
    },
  };
}

/** On PostgreSQL the rows of messages the reader's history statements return are counted, on its own pool. */
async function onPostgres(): Promise<Opened> {
  const postgres = await startPostgres();
  const database = await postgres.createDatabase();
  const pool = postgresPool(database);
  let taken = 0;
  const counting: Sql = {
    query: async <Row>(text: string, params?: readonly unknown[]) => {
      const result = await pool.query<Row>(text, params);
      if (text.includes('on_from_kept')) taken += result.rows.filter((row) => (row as { id?: unknown }).id != null).length;
      return result;
    },
    transaction: (fn) => pool.transaction(fn),
    close: () => pool.close(),
  };
  const options = { retention: DEFAULT_RETENTION, idempotencyTtlMs: BACKEND_SETTINGS.idempotencyTtlMs, historyCacheBytes: BACKEND_SETTINGS.historyCacheBytes };
  const [reader, writer] = await Promise.all([createPostgresRecordStore(counting, options), createPostgresRecordStore(database, options)]);
  return {
    reader,
    writer,
    async takenIn(_conversationId, read) {
      taken = 0;
      const history = await read();
      return { history, taken };
    },
    stop: async () => {
      await Promise.all([reader.close(), writer.close()]);
      await pool.close();
      await postgres.stop();
    },
  };
}

describe.each([
  { name: 'one Redis', open: async () => startRedis().then((redis) => onRedis(redis.url, () => redis.stop())) },
  { name: 'a Redis Cluster', open: async () => startRedisCluster().then((cluster) => onRedis({ clusterNodes: cluster.urls }, () => cluster.stop())) },
  { name: 'PostgreSQL', open: onPostgres },
])("a run's history read on $name", ({ open }) => {
  let opened: Opened;
  let reader: Stores;
  let writer: Stores;

  beforeAll(async () => {
    opened = await open();
    ({ reader, writer } = opened);
  });
  afterAll(() => opened?.stop());

  /** Stores messages of the given seqs through the other instance, as another gateway would. */
  const store = async (conversationId: string, seqs: number[]) => {
    const stored = seqs.map((seq) => message(conversationId, seq));
    for (const each of stored) await writer.messages.add(each);
    return stored;
  };

  /** The reader's history read through `messageId`, and how many messages it took in from the store for it. */
  const read = async (conversationId: string, last: number, messageId: string) => {
    const { history, taken: parsed } = await opened.takenIn(conversationId, () => reader.messages.listLastThrough(conversationId, last, messageId));
    return { history, parsed };
  };

  /** What a read of the whole history answers (nothing kept is used: `listLast` reads the store). */
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
