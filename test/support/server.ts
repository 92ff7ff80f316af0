/** Starts a real gateway on an ephemeral port, with test-friendly settings over the defaults. */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/server.ts';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long';

export interface TestServerOptions {
  /** Start without AUTH_JWT_SECRET (an ephemeral secret and POST /auth/dev-token, outside production). */
  withoutSecret?: boolean;
}

export async function startTestServer(
  overrides: Record<string, string> = {},
  options: TestServerOptions = {},
): Promise<RunningServer> {
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_JWT_SECRET: TEST_SECRET,
    AGENT_STEP_DELAY_MS: '0',
    SEND_RATE_LIMIT: '100000',
    ...overrides,
  };
  if (options.withoutSecret) delete env['AUTH_JWT_SECRET'];
  if (process.env['TEST_BACKEND'] === 'redis') {
    env['REDIS_URL'] ??= inject('redisUrl');
    env['REDIS_KEY_PREFIX'] ??= `agw-test-${randomUUID()}:`;
  }
  const server = await startServer(loadConfig(env), pino({ level: process.env['LOG_LEVEL'] ?? 'silent' }));
  await untilReady(server);
  return server;
}

/** A Redis-backed server serves at once and connects in the background: wait until it can answer. */
async function untilReady(server: RunningServer, attempts = 200): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await server.gateway.backend.ping();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Resolves once the server serves exactly `count` agentEvents subscriptions (each check yields to I/O first). */
export async function awaitActiveSubscriptions(server: RunningServer, count: number, rounds = 10_000): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    const { values } = await server.gateway.metrics.activeSubscriptions.get();
    if ((values[0]?.value ?? 0) === count) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`the server never had ${count} active subscriptions`);
}
