/**
 * `npm run migrate`: applies the store of record's pending migrations to the PostgreSQL at
 * DATABASE_URL (a server, or a data folder with PGlite), then exits (instances also migrate at
 * start; this is for doing it beforehand).
 */
import { loadConfig } from '../src/config.ts';
import { migrate } from '../src/store/postgres/migrations.ts';
import { openSql } from '../src/store/postgres/index.ts';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const url = (() => {
  try {
    return loadConfig().DATABASE_URL;
  } catch (error) {
    fail((error as Error).message);
  }
})();
if (!url)
  fail('DATABASE_URL is not set: name the PostgreSQL to migrate, e.g. DATABASE_URL=postgres://user@host:5432/db npm run migrate (or file:///path/to/folder)');

const sql = await openSql(url);
try {
  const applied = await migrate(sql);
  console.log(applied.length > 0 ? `Applied migrations ${applied.join(', ')}.` : 'The schema is up to date.');
} catch (error) {
  console.error(`Migrating failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await sql.close();
}
