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
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
 * takes seconds). One process at a time may have a folder open, once: PGlite keeps no lock of its
 * own, and two on one folder would damage it, so the folder holds the pid of the process that has
 * it open (`LOCK_FILE`), and another is refused while that process lives.
 */
export async function pgliteSql(dataDir: string): Promise<Sql> {
  const folder = resolve(dataDir);
  mkdirSync(folder, { recursive: true });
  const unlock = lockFolder(folder);
  let db: PGlite;
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    db = await PGlite.create(folder);
  } catch (error) {
    unlock();
    throw error;
  }
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
    async close() {
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}

/** The file in a data folder naming the process that has it open. */
export const LOCK_FILE = 'agent-gateway.pid';

/** Folders this process has open. */
const openHere = new Set<string>();

/**
 * Takes `folder` for this process, refusing it while another live process (or this one) has it
 * open; a pid left by a process that died, or by an earlier process with this one's pid (a
 * container's pid 1 after a restart), is stale. Answers how to give the folder back.
 */
function lockFolder(folder: string): () => void {
  if (openHere.has(folder)) throw new Error(`the PGlite data folder ${folder} is open in this process already`);
  const file = join(folder, LOCK_FILE);
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new Error(
        `the PGlite data folder ${folder} is open in process ${holder}; one process at a time may open it (if that process is not this gateway's, remove ${file})`,
        {
          cause: error,
        },
      );
    }
    writeFileSync(file, String(process.pid));
  }
  openHere.add(folder);
  return () => {
    if (!openHere.delete(folder)) return;
    rmSync(file, { force: true });
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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
