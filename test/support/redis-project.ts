/**
 * The `redis` test project runs the end-to-end suite against the Redis backend: one private
 * redis-server for the whole run (started here, in vitest's main process), and a key prefix of
 * its own for every test server, so that files running in parallel never see each other's keys.
 */
import type { TestProject } from 'vitest/node';
import { startRedis } from './redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export default async function startSharedRedis(project: TestProject) {
  const redis = await startRedis();
  project.provide('redisUrl', redis.url);
  return () => redis.stop();
}
