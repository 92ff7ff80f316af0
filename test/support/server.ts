/** Starts a real gateway on an ephemeral port, with test-friendly settings over the defaults. */
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/server.ts';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long';

export async function startTestServer(overrides: Record<string, string> = {}): Promise<RunningServer> {
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    AUTH_JWT_SECRET: TEST_SECRET,
    AGENT_STEP_DELAY_MS: '0',
    SEND_RATE_LIMIT: '100000',
    ...overrides,
  });
  return startServer(config, pino({ level: process.env['LOG_LEVEL'] ?? 'silent' }));
}
