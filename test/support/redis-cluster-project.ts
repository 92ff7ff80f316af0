/**
 * The `cluster` and `redis-cluster` test projects run the end-to-end suite on a Redis Cluster
 * (beside PostgreSQL as the store of record, or as the store of record itself): one private
 * six-node cluster for the whole run, started here in vitest's main process, and a key prefix of
 * its own for every test server, so that files running in parallel never see each other's keys.
 */
import type { TestProject } from 'vitest/node';
import { startRedisCluster } from './redis-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisClusterNodes: string;
  }
}

export default async function startSharedRedisCluster(project: TestProject) {
  const cluster = await startRedisCluster();
  project.provide('redisClusterNodes', cluster.urls.join(','));
  return () => cluster.stop();
}
