/**
 * A `Sql` on PGlite: PostgreSQL compiled to WebAssembly, running in this process on a data
 * folder, so that one process keeps the store of record across restarts with no server.
 *
 * PGlite is one connection. Its `transaction` holds that connection for the whole callback, and
 * its `query` outside a transaction waits until no transaction is open, so a statement of one
 * caller never runs inside another caller's transaction; callers are served in turn. What this
 * adds: a transaction's own `Sql` that joins it (as `postgresPool`'s does), rows counted as
 * node-postgres counts them, and a clear error, instead of a wait that never ends, for a statement
 * sent past the transaction's own `Sql` from inside it (it would wait for the transaction it is in).
 *
 * The package is loaded when the first folder is opened: nothing else pays for its WebAssembly.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Sql } from './sql.ts';

/** The transaction the current async context is inside, while it is open. */
interface OpenTransaction {
  db: PGlite;
  open: boolean;
}

const inside = new AsyncLocalStorage<OpenTransaction>();

/**
 * A `Sql` on the PGlite data folder `dataDir` (made, and initialized, when new: the first start
 * takes seconds). One process at a time may have a folder open.
 */
export async function pgliteSql(dataDir: string): Promise<Sql> {
  mkdirSync(dataDir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dataDir);
  const outside = (what: string) => {
    const current = inside.getStore();
    if (current?.open && current.db === db) {
      throw new Error(`${what} on PGlite from inside one of its transactions, past that transaction's own Sql: it would wait for itself`);
    }
  };
  return {
    async query(text, params) {
      outside('a statement');
      return counted(await db.query(text, params as unknown[] | undefined));
    },
    async transaction(fn) {
      outside('a transaction');
      return db.transaction(async (tx) => {
        const marker: OpenTransaction = { db, open: true };
        try {
          return await inside.run(marker, () => fn(joined(tx)));
        } finally {
          marker.open = false;
        }
      });
    },
    close: () => db.close(),
  };
}

/** The `Sql` of a transaction in progress. */
function joined(tx: Transaction): Sql {
  const sql: Sql = {
    query: async (text, params) => counted(await tx.query(text, params as unknown[] | undefined)),
    transaction: (fn) => fn(sql),
    close: async () => {
      throw new Error('a transaction is ended by the transaction() that began it, not closed');
    },
  };
  return sql;
}

/** Rows and their count as node-postgres gives them: the count of the command's tag (rows a SELECT returned, rows a DELETE deleted). */
function counted<Row>(result: { rows: unknown[]; affectedRows?: number }): { rows: Row[]; rowCount: number } {
  const tagged = (result as { rowCount?: number }).rowCount;
  return { rows: result.rows as Row[], rowCount: tagged ?? result.affectedRows ?? result.rows.length };
}
