/** Gateway process entry (`npm start`): GraphQL, WebSocket, health, metrics and the web page on PORT. */
import { runProcess } from './process-shell.ts';
import { startServer } from './server.ts';

await runProcess('agent-gateway', async (config, logger) => {
  const server = await startServer(config, logger);
  if (server.gateway.auth.ephemeral) {
    const scope = config.REDIS_URL || config.REDIS_CLUSTER_NODES ? 'a dev secret shared by the instances on this Redis' : 'an ephemeral dev secret';
    logger.warn(`No AUTH_JWT_SECRET: using ${scope}. Get a token with POST ${server.url}/auth/dev-token.`);
  }
  logger.info(`GraphiQL: ${server.url}/graphql  ·  chat page: ${server.url}/`);
  const hurry = new AbortController();
  return {
    stop: () => {
      logger.info({ graceMs: config.GATEWAY_SHUTDOWN_GRACE_MS }, 'stopping: letting runs finish');
      return server.close({ graceMs: config.GATEWAY_SHUTDOWN_GRACE_MS, cutShort: hurry.signal });
    },
    hurry: () => hurry.abort(),
  };
});
