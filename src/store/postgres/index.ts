import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { isDataFolderUrl } from '../../config.ts';
import type { RecordLog, RetentionPolicy } from '../event-log.ts';
import type { RecordStore, RunFences, SendStore } from '../interfaces.ts';
import type { RunRecord } from '../../domain/records.ts';
import { PostgresConversationStore } from './conversations.ts';
import { deleteConversation } from './deletion.ts';
import { PostgresEventLog } from './event-log.ts';
import { Housekeeping } from './housekeeping.ts';
import { PostgresMessageStore } from './messages.ts';
import { migrate } from './migrations.ts';
import { PostgresRunQueue, PostgresRunStore } from './runs.ts';
import { RecentMessages } from '../recent-messages.ts';
import { PostgresInputRequestStore } from './inputs.ts';
import { PostgresSendStore } from './sends.ts';
import { pgliteSql } from './pglite.ts';
import { postgresPool, type PostgresPoolOptions, type Sql } from './sql.ts';

export interface PostgresRecordStoreOptions {
  /** What the log keeps (EVENT_RETENTION_COUNT, EVENT_RETENTION_MS). */
  retention: RetentionPolicy;
  /** How long an idempotency key is remembered (IDEMPOTENCY_TTL_MS). */
  idempotencyTtlMs: number;
  /** How often events past the retention age and expired keys are deleted (default a minute). */
  sweepIntervalMs?: number;
  /** The size of the newest messages kept for runs' history reads (HISTORY_CACHE_BYTES; default none kept). */
  historyCacheBytes?: number;
  logger?: Logger;
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * PostgreSQL as the store of record: what must last (conversations, messages, runs and their
 * queues, idempotency keys, the event log) and nothing that is live (no fan-out, leases, locks or
 * rate limits). Meant to sit behind a live layer that rings the doorbell after each append and
 * keeps the leases, telling `fences` whenever a lease changes hands.
 */
export interface PostgresRecordStore extends RecordStore {
  readonly kind: 'postgres';
  /** Sends in one transaction each; `NewSend.lease` is left to the live layer. */
  sends: SendStore;
  /** Appends fenced with an epoch go in only while the run's fence (see `fences`) is at that epoch. */
  events: RecordLog;
  /** Fencing kept with the runs, which the live layer tells whenever a lease changes hands; `fence` throws for a run that does not exist. */
  fences: RunFences;
  activeRuns(limit: number): Promise<RunRecord[]>;
  /**
   * Deletes now what the timer deletes every `sweepIntervalMs`: events past the retention age
   * and expired idempotency keys (reads leave them out already). Answers how many of each.
   */
  sweepExpired(): Promise<{ events: number; keys: number }>;
  /** Stops sweeping and closes the pool (or PGlite) it opened for a URL; a `Sql` it was handed is its giver's to close. */
  close(): Promise<void>;
}

/**
 * The store of record on the PostgreSQL at `database` (a `postgres://` URL, for which it opens a
 * pool; a `file:///` URL of a data folder, which it opens with PGlite in this process; or a `Sql`
 * of the caller's), once its schema is migrated: many instances starting at once migrate it once.
 */
export async function createPostgresRecordStore(database: string | Sql, options: PostgresRecordStoreOptions): Promise<PostgresRecordStore> {
  const sql = typeof database === 'string' ? await openSql(database, { logger: options.logger }) : database;
  try {
    const applied = await migrate(sql);
    if (applied.length > 0) options.logger?.info({ versions: applied }, 'migrated the PostgreSQL schema');
  } catch (error) {
    if (sql !== database) await sql.close();
    throw error;
  }
  const runs = new PostgresRunStore(sql);
  const housekeeping = new Housekeeping(sql, options.retention, options.logger);
  housekeeping.start(options.sweepIntervalMs ?? SWEEP_INTERVAL_MS);
  return {
    kind: 'postgres',
    conversations: new PostgresConversationStore(sql),
    messages: new PostgresMessageStore(sql, new RecentMessages(options.historyCacheBytes ?? 0)),
    runs,
    runQueue: new PostgresRunQueue(sql),
    sends: new PostgresSendStore(sql, options.retention, options.idempotencyTtlMs),
    inputs: new PostgresInputRequestStore(sql, options.retention),
    events: new PostgresEventLog(sql, options.retention),
    fences: { fence: (runId, holder, handover) => runs.fence(runId, holder, handover) },
    activeRuns: (limit) => runs.active(limit),
    sweepExpired: () => housekeeping.sweep(),
    deleteConversation: (id) => deleteConversation(sql, id),
    ping: async () => void (await sql.query('SELECT 1')),
    close: async () => {
      await housekeeping.stop();
      if (sql !== database) await sql.close();
    },
  };
}

/**
 * A `Sql` for a DATABASE_URL: a pool for a `postgres://` URL, PGlite in this process for a
 * `file:///` URL (the absolute path of its data folder).
 */
export async function openSql(url: string, options: PostgresPoolOptions = {}): Promise<Sql> {
  return isDataFolderUrl(url) ? pgliteSql(fileURLToPath(url)) : postgresPool(url, options);
}

export { migrate, MIGRATIONS, type Migration } from './migrations.ts';
export { pgliteSql } from './pglite.ts';
export { postgresPool, type PostgresPoolOptions, type Sql } from './sql.ts';
