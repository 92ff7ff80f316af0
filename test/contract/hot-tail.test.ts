/**
 * The hot tail in Redis (one server, or a Redis Cluster) of a history kept in PostgreSQL: reads
 * of recent events are served from it, with no read of PostgreSQL (counted), and answer exactly
 * what PostgreSQL would; what it does not hold (older events, a range after a hole) is read from
 * PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/domain/events.ts';
import { composeBackend } from '../../src/store/compose.ts';
import type { RecordLog } from '../../src/store/event-log.ts';
import type { Backend } from '../../src/store/interfaces.ts';
import { createPostgresRecordStore, type PostgresRecordStore } from '../../src/store/postgres/index.ts';
import { createRedisLiveLayer } from '../../src/store/redis/index.ts';
import { startPostgres, type TestPostgres } from '../support/postgres-server.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, startLiveCluster, startLiveRedis, token, type LiveRedis } from './worlds.ts';

const CAPACITY = 5;

const places = [
  { name: 'a Redis', start: startLiveRedis },
  { name: 'a Redis Cluster', start: startLiveCluster },
];

describe.each(places)('the hot tail in $name of a history in PostgreSQL', (tail) => {
  let redis: LiveRedis;
  let postgres: TestPostgres;
  let record: PostgresRecordStore;
  let backend: Backend;
  /** Reads that reached PostgreSQL. */
  let historyReads = 0;

  beforeAll(async () => {
    [redis, postgres] = await Promise.all([tail.start(), startPostgres()]);
    record = await createPostgresRecordStore(await postgres.createDatabase(), {
      retention: DEFAULT_RETENTION,
      idempotencyTtlMs: BACKEND_SETTINGS.idempotencyTtlMs,
    });
    const history: RecordLog = record.events;
    const counted: RecordLog = {
      append: (event, epoch) => history.append(event, epoch),
      appendBatch: (events, epoch) => history.appendBatch(events, epoch),
      lastSeq: (conversationId) => history.lastSeq(conversationId),
      read: (conversationId, afterSeq, limit) => {
        historyReads += 1;
        return history.read(conversationId, afterSeq, limit);
      },
    };
    const live = await createRedisLiveLayer(redis.target, {
      keyPrefix: `tail-${randomUUID()}:`,
      lockTtlMs: BACKEND_SETTINGS.lockTtlMs,
      hotTail: { capacity: CAPACITY, windowMs: 60_000 },
    });
    backend = composeBackend({ ...record, events: counted }, live);
  });
  afterAll(async () => {
    await backend?.close();
    await Promise.all([redis?.stop(), postgres?.stop()]);
  });

  const appendTokens = async (conversationId: string, count: number): Promise<StoredEvent[]> =>
    backend.events.appendBatch(Array.from({ length: count }, (_, i) => token(conversationId, `t${i}`)));

  it('serves the recent events it holds without reading PostgreSQL, the same events PostgreSQL holds', async () => {
    const conversationId = randomUUID();
    await appendTokens(conversationId, 3);
    await appendTokens(conversationId, 7);
    historyReads = 0;
    const fromTail = await backend.events.read(conversationId, 6, 100);
    const fromTailPage = await backend.events.read(conversationId, 5, 2);
    expect(historyReads).toBe(0);
    expect(fromTail).toEqual(await record.events.read(conversationId, 6, 100));
    expect(fromTailPage).toEqual(await record.events.read(conversationId, 5, 2));
    expect(fromTail.map((event) => event.seq)).toEqual([7, 8, 9, 10]);
  });

  it('reads from PostgreSQL what it no longer holds, and what follows a hole', async () => {
    const conversationId = randomUUID();
    await appendTokens(conversationId, 10);
    historyReads = 0;
    // It keeps the newest CAPACITY: seq 6 to 10.
    expect((await backend.events.read(conversationId, 2, 100)).map((event) => event.seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(historyReads).toBe(1);
    // A batch stored but never announced (its fan-out failed) leaves a hole: the next batch starts the tail anew.
    await record.events.appendBatch([token(conversationId, 'unannounced')]);
    await appendTokens(conversationId, 2);
    historyReads = 0;
    expect((await backend.events.read(conversationId, 9, 100)).map((event) => event.seq)).toEqual([10, 11, 12, 13]);
    expect(historyReads).toBe(1);
    expect((await backend.events.read(conversationId, 11, 100)).map((event) => event.seq)).toEqual([12, 13]);
    expect(historyReads).toBe(1);
  });

  it('forgets what it holds of a deleted conversation', async () => {
    const conversationId = randomUUID();
    const now = new Date().toISOString();
    await backend.conversations.createIfAbsent({ id: conversationId, owner: { userId: 'u', tenantId: null }, title: null, createdAt: now, updatedAt: now });
    await appendTokens(conversationId, 3);
    expect(await backend.deleteConversation(conversationId)).toBe(true);
    expect(await backend.events.read(conversationId, 0, 100)).toEqual([]);
  });
});
