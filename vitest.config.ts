import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

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
    env: { LOG_LEVEL: 'silent' },
    projects: [
      { extends: true, test: { name: 'memory', include: ['test/**/*.test.ts'] } },
      {
        // The same end-to-end contract, with every test server on the Redis backend.
        extends: true,
        test: {
          name: 'redis',
          include: ['test/e2e/**/*.test.ts'],
          // This one spawns its own server processes with an environment of its own.
          exclude: ['test/e2e/shutdown.test.ts'],
          env: { TEST_BACKEND: 'redis' },
          globalSetup: ['test/support/redis-project.ts'],
        },
      },
      {
        // Once more with PostgreSQL as the store of record and Redis as the live layer, each
        // gateway handing its runs to a worker beside it (test/support/server.ts).
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/e2e/**/*.test.ts'],
          // As for the workers project below.
          exclude: ['test/e2e/shutdown.test.ts', 'test/e2e/transport.test.ts'],
          env: { TEST_BACKEND: 'postgres' },
          globalSetup: ['test/support/redis-project.ts', 'test/support/postgres-project.ts'],
        },
      },
      {
        // Once more with gateways that hand runs to a worker through the intent queue.
        extends: true,
        test: {
          name: 'workers',
          include: ['test/e2e/**/*.test.ts'],
          // Process-level tests of the gateway itself; transport.test.ts also counts the runs'
          // events in the gateway's metrics, which a worker (with metrics of its own) appends.
          exclude: ['test/e2e/shutdown.test.ts', 'test/e2e/transport.test.ts'],
          env: { TEST_BACKEND: 'workers' },
          globalSetup: ['test/support/redis-project.ts'],
        },
      },
    ],
  },
});
