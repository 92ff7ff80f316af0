/**
 * The settings of a gateway a benchmark starts as its own process: on `port` of this machine,
 * signing with the test secret, agents unpaced, sends unlimited and logs silent, so that what
 * is measured is the gateway's own work.
 */
import { TEST_SECRET } from '../../test/support/server.ts';

export function benchGatewaySettings(port: number): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    AUTH_JWT_SECRET: TEST_SECRET,
    AGENT_STEP_DELAY_MS: '0',
    SEND_RATE_LIMIT: '1000000',
    LOG_LEVEL: 'silent',
  };
}
