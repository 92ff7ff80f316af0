/**
 * The one door to PostgreSQL: every statement of the store of record goes through `Sql`, so that
 * another PostgreSQL (an in-process one, say) can back the same store by implementing it.
 */
import pg from 'pg';
import type { Logger } from 'pino';

export interface Sql {
  /** Runs one statement with `$1, $2, …` parameters; outside a transaction it is a transaction of its own. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<{ rows: Row[]; rowCount: number }>;
  /**
   * Runs `fn` in one transaction, on one connection: committed when `fn` resolves, rolled back
   * when it throws. On a transaction's own `Sql` it joins that transaction.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface PostgresPoolOptions {
  /** Connections the pool opens at most (node-postgres' default is 10). */
  max?: number;
  /** Told about connections that fail while idle, which would otherwise end the process. */
  logger?: Logger;
}

/** A `Sql` on a node-postgres pool for the `postgres://` URL. */
export function postgresPool(url: string, options: PostgresPoolOptions = {}): Sql {
  const pool = new pg.Pool({ connectionString: url, max: options.max });
  // An idle connection that breaks (a server restart) emits 'error' on the pool; unheard, it would
  // throw. The pool drops that connection and opens another when one is next needed.
  pool.on('error', (error) => options.logger?.warn({ err: error }, 'an idle PostgreSQL connection failed'));
  return {
    query: (text, params) => run(pool, text, params),
    async transaction(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(joined(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: the pool closes it.
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/** The `Sql` of a transaction in progress on `client`. */
function joined(client: pg.PoolClient): Sql {
  const tx: Sql = {
    query: (text, params) => run(client, text, params),
    transaction: (fn) => fn(tx),
    close: async () => {
      throw new Error('a transaction is ended by the transaction() that began it, not closed');
    },
  };
  return tx;
}

async function run<Row>(on: pg.Pool | pg.PoolClient, text: string, params?: readonly unknown[]) {
  const result = await on.query(text, params as unknown[] | undefined);
  return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
}
