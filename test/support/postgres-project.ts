/**
 * The `postgres` test project runs the end-to-end suite with PostgreSQL as the store of record
 * and Redis as the live layer: one private PostgreSQL and one redis-server for the whole run
 * (started here, in vitest's main process), and a database and key prefix of its own for every
 * test server.
 */
import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function startSharedPostgres(project: TestProject) {
  const postgres = await startPostgres();
  project.provide('postgresUrl', postgres.url);
  return () => postgres.stop();
}
