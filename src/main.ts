/** Process entry: read the configuration, start, and stop cleanly on SIGTERM or SIGINT. */
import { pino } from 'pino';
import { loadConfig } from './config.ts';
import { startServer } from './server.ts';

const bootLogger = pino({ name: 'agent-gateway' });
let config;
try {
  config = loadConfig();
} catch (error) {
  bootLogger.fatal((error as Error).message);
  process.exit(1);
}
const logger = pino({ name: 'agent-gateway', level: config.LOG_LEVEL });
const server = await startServer(config, logger).catch((error: unknown) => {
  logger.fatal((error as Error).message);
  process.exit(1);
});
if (server.gateway.auth.ephemeral) {
  const scope = config.REDIS_URL ? 'a dev secret shared by the instances on this Redis' : 'an ephemeral dev secret';
  logger.warn(`No AUTH_JWT_SECRET: using ${scope}. Get a token with POST ${server.url}/auth/dev-token.`);
}
logger.info(`GraphiQL: ${server.url}/graphql  ·  chat page: ${server.url}/`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
