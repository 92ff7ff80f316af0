import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/** The end-to-end suite once more on another topology. */
const endToEnd = { include: ['test/e2e/**/*.test.ts'] };

/**
 * End-to-end files whose subject is the same on every topology: they run in the memory project
 * only. The parsed-document cache (queries of the token's viewer, documents that do not parse),
 * tokens verified with an identity provider's keys (the viewer again), and how a WebSocket's
 * writes are coalesced, counted against events appended a tick apart: only the memory log hands
 * them on a tick apart (a shared log hands on a batch of appends per notification).
 */
const sameOnEveryTopology = ['test/e2e/document-cache.test.ts', 'test/e2e/jwks.test.ts', 'test/e2e/coalesced-writes.test.ts'];

export default defineConfig({
  resolve: {
    // graphql 16 has no "exports" map: Node loads its CommonJS build for our dependencies while
    // Vite would pick its ESM build for our sources, and two copies break `instanceof` checks.
    alias: { graphql: require.resolve('graphql') },
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file starts its own servers on ephemeral ports; two at a time suits a 2-core machine.
    maxWorkers: 2,
    // A worker's files share its modules (no isolation): each file starts and closes its own
    // servers, restores the clock it fakes and keeps no state in modules or the environment, and
    // loading the gateway's modules afresh for every file took 178 s of the memory project's
    // 482 (387 without).
    isolate: false,
    env: { LOG_LEVEL: 'silent' },
    projects: [
      { extends: true, test: { name: 'memory', include: ['test/**/*.test.ts'] } },
      {
        // The same end-to-end contract, with every test server on the Redis backend.
        extends: true,
        test: {
          ...endToEnd,
          name: 'redis',
          // This one spawns its own server processes with an environment of its own.
          exclude: [...sameOnEveryTopology, 'test/e2e/shutdown.test.ts'],
          env: { TEST_BACKEND: 'redis' },
          globalSetup: ['test/support/redis-project.ts'],
        },
      },
      {
        // Once more with PostgreSQL as the store of record and Redis as the live layer, each
        // gateway handing its runs to a worker beside it (test/support/server.ts).
        extends: true,
        test: {
          ...endToEnd,
          name: 'postgres',
          // As for the redis-cluster project below.
          exclude: [...sameOnEveryTopology, 'test/e2e/shutdown.test.ts', 'test/e2e/transport.test.ts'],
          env: { TEST_BACKEND: 'postgres' },
          globalSetup: ['test/support/redis-project.ts', 'test/support/postgres-project.ts'],
        },
      },
      {
        // Once more with PostgreSQL as the store of record and a Redis Cluster (three primaries,
        // each with a replica) as the live layer, each gateway executing its own runs.
        extends: true,
        test: {
          ...endToEnd,
          name: 'cluster',
          // As for the redis project above.
          exclude: [...sameOnEveryTopology, 'test/e2e/shutdown.test.ts'],
          env: { TEST_BACKEND: 'cluster' },
          globalSetup: ['test/support/redis-cluster-project.ts', 'test/support/postgres-project.ts'],
        },
      },
      {
        // Once more with Redis alone, a Redis Cluster, as the store of record, each gateway handing
        // its runs to a worker beside it through the intent queue.
        extends: true,
        test: {
          ...endToEnd,
          name: 'redis-cluster',
          // Process-level tests of the gateway itself; transport.test.ts also counts the runs'
          // events in the gateway's metrics, which a worker (with metrics of its own) appends.
          exclude: [...sameOnEveryTopology, 'test/e2e/shutdown.test.ts', 'test/e2e/transport.test.ts'],
          env: { TEST_BACKEND: 'redis-cluster' },
          globalSetup: ['test/support/redis-cluster-project.ts'],
        },
      },
    ],
  },
});
