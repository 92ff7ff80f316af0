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
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file starts its own servers on ephemeral ports; two at a time suits a 2-core machine.
    maxWorkers: 2,
    env: { LOG_LEVEL: 'silent' },
  },
});
