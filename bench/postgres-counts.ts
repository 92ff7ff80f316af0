/**
 * What a server on PostgreSQL asks of it, counted by PostgreSQL itself: transactions (all
 * commits, and those that wrote, which are given a transaction id), rows written, and the events
 * the log holds. Read before and after a measured stretch; the difference is what it cost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export interface PostgresCounts {
  commits: number;
  writingTransactions: number;
  rowsWritten: number;
  events: number;
}

/**
 * PostgreSQL's statistics of other sessions are flushed when they have been idle for up to ten
 * seconds: waiting that long first makes the counts whole.
 */
const STATS_FLUSH_MS = 11_000;

export async function postgresCounts(url: string): Promise<PostgresCounts> {
  await sleep(STATS_FLUSH_MS);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ commits: string; rows: string; xid: string; events: string }>(`
      SELECT d.xact_commit AS commits, d.tup_inserted + d.tup_updated + d.tup_deleted AS rows,
             txid_current() AS xid, (SELECT coalesce(sum(last_seq), 0) FROM event_seqs) AS events
      FROM pg_stat_database d WHERE d.datname = current_database()`);
    const row = rows[0]!;
    // This query is one commit and, through txid_current(), one writing transaction itself.
    return { commits: Number(row.commits), writingTransactions: Number(row.xid), rowsWritten: Number(row.rows), events: Number(row.events) };
  } finally {
    await client.end();
  }
}

/** Per run and per event, between two readings around `runs` runs (the readings' own transactions taken out). */
export function perRun(before: PostgresCounts, after: PostgresCounts, runs: number) {
  const events = after.events - before.events;
  return {
    commitsPerRun: Number(((after.commits - before.commits - 1) / runs).toFixed(2)),
    writingTransactionsPerRun: Number(((after.writingTransactions - before.writingTransactions - 1) / runs).toFixed(2)),
    eventsPerRun: Number((events / runs).toFixed(2)),
    rowsWrittenPerEvent: Number(((after.rowsWritten - before.rowsWritten) / events).toFixed(2)),
  };
}
