import type { Logger } from 'pino';
import type { RetentionPolicy } from '../event-log.ts';
import type { Sql } from './sql.ts';

/** Rows deleted per statement at most, so that a sweep never holds many locks at once. */
const BATCH = 5000;

/**
 * Deletes what is no longer kept: events past the retention age (those past the count go as
 * appends come, see PostgresEventLog) and idempotency keys past their time. Reads already leave
 * both out; this keeps the tables from growing with conversations nobody appends to again.
 * Every instance may sweep: rows another sweep is deleting are skipped, not waited for.
 */
export class Housekeeping {
  private timer: NodeJS.Timeout | undefined;
  /** The sweep the timer started last; the timer starts none while it runs. */
  private sweeping: Promise<unknown> | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly retention: RetentionPolicy,
    private readonly logger?: Logger,
  ) {}

  /** Sweeps every `intervalMs` until `stop`, without keeping the process alive. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((error: unknown) => this.logger?.warn({ err: error }, 'sweeping PostgreSQL failed; the next sweep retries'))
        .finally(() => (this.sweeping = null));
    }, intervalMs);
    this.timer.unref();
  }

  /** Deletes everything expired now, a batch at a time; answers how many events and keys it deleted. */
  async sweep(): Promise<{ events: number; keys: number }> {
    const events = await this.deleteAll(
      `DELETE FROM events WHERE (conversation_id, seq) IN (
         SELECT conversation_id, seq FROM events WHERE appended_at < now() - $1::float8 * interval '1 millisecond'
         LIMIT $2 FOR UPDATE SKIP LOCKED
       )`,
      [this.retention.maxAgeMs, BATCH],
    );
    const keys = await this.deleteAll(
      `DELETE FROM idempotency_keys WHERE key IN (
         SELECT key FROM idempotency_keys WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED
       )`,
      [BATCH],
    );
    return { events, keys };
  }

  /** Stops the timer and waits for a sweep under way, so that the pool can be closed after it. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  private async deleteAll(statement: string, params: unknown[]): Promise<number> {
    let deleted = 0;
    for (;;) {
      const { rowCount } = await this.sql.query(statement, params);
      deleted += rowCount;
      if (rowCount < BATCH) return deleted;
    }
  }
}
