/**
 * Wiring only: one HTTP server on one port for GraphQL over HTTP and SSE (yoga), GraphQL over
 * WebSocket (graphql-ws), health, metrics, dev tokens and the web page.
 */
import { createServer, type Server } from 'node:http';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { createGateway, type Gateway } from './gateway.ts';
import type { HostOptions } from './runtime-host.ts';
import { createHttpRoutes } from './transport/http-routes.ts';
import { listen } from './transport/listen.ts';
import { createProbes } from './transport/probes.ts';
import { SharedEventExecution } from './transport/shared-execution.ts';
import { attachWebSockets } from './transport/websocket.ts';
import { createYogaServer } from './transport/yoga.ts';

export interface RunningServer {
  gateway: Gateway;
  httpServer: Server;
  /** http://host:port */
  url: string;
  /**
   * Stops accepting connections, lets the runs executing here finish for up to `graceMs`
   * (default 0; until `cutShort` aborts), ends the rest per the contract (their terminal events
   * still reach live subscribers), closes every WebSocket with 1001 and releases the backend.
   */
  close(options?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  graceMs?: number;
  cutShort?: AbortSignal;
}

export async function startServer(config: Config, logger: Logger, options: HostOptions = {}): Promise<RunningServer> {
  const gateway = await createGateway(config, logger, options);
  // One for both transports, so that SSE and WebSocket subscribers of a document share too.
  const sharedEvents = new SharedEventExecution({ resultsPerShape: config.SHARED_EVENT_RESULTS, metrics: gateway.metrics });
  const yoga = createYogaServer(gateway, sharedEvents);
  let closing: Promise<void> | undefined;
  const probes = createProbes({
    ping: () => gateway.backend.ping(),
    isStopping: () => closing !== undefined,
    metrics: gateway.metrics.registry,
    logger,
  });
  const routes = createHttpRoutes(gateway, probes);
  const httpServer = createServer((request, response) => {
    routes(request, response)
      .then((handled) => (handled ? undefined : yoga(request, response)))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'request failed');
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
  });
  const wsServer = attachWebSockets(httpServer, yoga, gateway, sharedEvents);
  const url = await listen(httpServer, config.PORT, config.HOST);
  logger.info({ url, backend: gateway.backend.kind }, 'agent gateway listening');

  const close = ({ graceMs = 0, cutShort }: CloseOptions = {}) =>
    (closing ??= (async () => {
      const stopped = new Promise((resolve) => httpServer.close(resolve));
      await gateway.runtime.shutdown(graceMs, cutShort);
      // Let subscribers' pending deliveries (the terminal events just appended) reach their sockets.
      await nextMacrotask();
      for (const socket of wsServer.clients) socket.close(1001, 'Server shutting down');
      wsServer.close();
      httpServer.closeAllConnections();
      await stopped;
      await gateway.backend.close();
      logger.info('agent gateway stopped');
    })());
  return { gateway, httpServer, url, close };
}
