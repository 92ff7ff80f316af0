/**
 * Wiring only. The gateway's HTTP and WebSocket surface as handlers an application mounts in a
 * server of its own (Node's http, Express, Fastify: GraphQL over HTTP and SSE, GraphQL over
 * WebSocket, the other protocols, health, metrics, dev tokens and the web page), and the gateway
 * on a server of its own, one port, as `npm start` runs it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { createGateway, type Gateway } from './gateway.ts';
import type { HostOptions } from './runtime-host.ts';
import { createHttpRoutes } from './transport/http/routes.ts';
import { listen } from './transport/http/listen.ts';
import { createProbes } from './transport/http/probes.ts';
import { SharedEventExecution } from './transport/fan-out/shared-execution.ts';
import { createWebSockets } from './transport/graphql/websocket.ts';
import { createYogaServer } from './transport/graphql/yoga.ts';

export interface CloseOptions {
  graceMs?: number;
  cutShort?: AbortSignal;
}

export interface MountOptions extends HostOptions {
  /** Serve the chat page at `/` and its assets (default true). */
  webPage?: boolean;
}

/** The gateway as handlers for a server of the application's own. */
export interface GatewayHandler {
  gateway: Gateway;
  /**
   * Answers an HTTP request for one of the gateway's paths (/graphql, /ag-ui, /ai-sdk, the
   * probes, /auth/dev-token, /limits and, unless `webPage: false`, the chat page). Any other goes
   * to `next` when given (Express and Connect middleware) or is answered 404.
   */
  handleRequest(request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void): void;
  /** Takes a WebSocket upgrade for /graphql or an older socket's path; false leaves it to the application. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Hands the gateway's upgrade requests of `server` to it; the application's other upgrades are left alone. */
  attach(server: Server): void;
  /**
   * Lets the runs executing here finish for up to `graceMs` (default 0; until `cutShort`
   * aborts), ends the rest per the contract (their terminal events still reach live
   * subscribers), closes every WebSocket with 1001 and releases the backend. The application's
   * server is its own to close.
   */
  close(options?: CloseOptions): Promise<void>;
}

export async function createGatewayHandler(config: Config, logger: Logger, options: MountOptions = {}): Promise<GatewayHandler> {
  const { handler, shutdown } = await mountGateway(config, logger, options);
  return { ...handler, close: (closeOptions) => shutdown(closeOptions) };
}

/**
 * The handler, with a shutdown that lets its caller finish with the connections (`beforeRelease`)
 * before the backend goes: a request still in flight must not find it closed.
 */
async function mountGateway(config: Config, logger: Logger, options: MountOptions) {
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
  const routes = createHttpRoutes(gateway, probes, { yoga, webPage: options.webPage ?? true });
  const { wsServer, handleUpgrade } = createWebSockets(yoga, gateway, sharedEvents);

  const handleRequest = (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void) => {
    routes(request, response)
      .then((handled) => {
        if (handled) return;
        if (next) return next();
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `Nothing is served at ${request.method} ${request.url}.` } }));
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, 'request failed');
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
  };
  const shutdown = ({ graceMs = 0, cutShort }: CloseOptions = {}, beforeRelease?: () => Promise<unknown>) =>
    (closing ??= (async () => {
      await gateway.runtime.shutdown(graceMs, cutShort);
      // Let subscribers' pending deliveries (the terminal events just appended) reach their sockets.
      await nextMacrotask();
      for (const socket of wsServer.clients) socket.close(1001, 'Server shutting down');
      wsServer.close();
      await beforeRelease?.();
      await gateway.backend.close();
      logger.info('agent gateway stopped');
    })());
  const handler: Omit<GatewayHandler, 'close'> = {
    gateway,
    handleRequest,
    handleUpgrade,
    attach: (server) => server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => handleUpgrade(request, socket, head)),
  };
  return { handler, shutdown };
}

export interface RunningServer {
  gateway: Gateway;
  httpServer: Server;
  /** http://host:port */
  url: string;
  /** Stops accepting connections, then closes the gateway as `GatewayHandler.close` does. */
  close(options?: CloseOptions): Promise<void>;
}

/** The gateway on a server of its own, listening on HOST and PORT. */
export async function startServer(config: Config, logger: Logger, options: MountOptions = {}): Promise<RunningServer> {
  const { handler, shutdown } = await mountGateway(config, logger, options);
  const httpServer = createServer((request, response) => handler.handleRequest(request, response));
  // The server is the gateway's alone: an upgrade it does not take is for nobody.
  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!handler.handleUpgrade(request, socket, head)) socket.destroy();
  });
  const url = await listen(httpServer, config.PORT, config.HOST);
  logger.info({ url, backend: handler.gateway.backend.kind }, 'agent gateway listening');
  const close = (closeOptions: CloseOptions = {}) => {
    const stopped = new Promise((resolve) => httpServer.close(resolve));
    return shutdown(closeOptions, () => {
      httpServer.closeAllConnections();
      return stopped;
    });
  };
  return { gateway: handler.gateway, httpServer, url, close };
}
