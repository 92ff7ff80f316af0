/**
 * graphql-ws (graphql-transport-ws) on the shared port. Authentication happens once, at
 * connection_init; the socket is closed with 4403 when the token expires. Every operation is
 * parsed, validated and limited through yoga's envelop, and its errors masked as over HTTP;
 * queries and mutations run through envelop too, subscriptions through the shared execution.
 */
import type { Server } from 'node:http';
import { GraphQLError, OperationTypeNode, getOperationAST } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal } from '../experience/auth.ts';
import type { Gateway } from '../gateway.ts';
import { authorizationFrom, createContext } from './context.ts';
import { clientErrorMasking, toClientError } from './errors.ts';
import { serveGraphQLWs } from './graphql-ws-server.ts';
import { operationRefusal } from './operation-limits.ts';
import type { SharedEventExecution } from './shared-execution.ts';
import { OperationsPerSocket, SocketsPerUser, screenIncomingFrames } from './socket-limits.ts';
import type { Yoga } from './yoga.ts';

interface SocketState {
  principal?: Principal;
  expiryTimer?: NodeJS.Timeout;
}

/** graphql-ws's default: a socket that does not answer a ping within this is dropped. */
const KEEP_ALIVE_MS = 12_000;

/** Yoga marks request errors with the HTTP status they would get; a WebSocket has none. */
function withoutHttpDetail(error: GraphQLError): GraphQLError {
  const { http: _httpStatus, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions });
}

export function attachWebSockets(httpServer: Server, yoga: Yoga, gateway: Gateway, sharedEvents: SharedEventExecution): WebSocketServer {
  const { config, logger, metrics } = gateway;
  const maskError = clientErrorMasking(config.production, logger);
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: config.WS_MAX_PAYLOAD_BYTES });
  httpServer.on('upgrade', (request, socket, head) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== yoga.graphqlEndpoint) {
      socket.destroy();
      return;
    }
    wsServer.handleUpgrade(request, socket, head, (ws) => wsServer.emit('connection', ws, request));
  });
  const states = new WeakMap<WebSocket, SocketState>();
  const stateOf = (socket: WebSocket) => {
    let state = states.get(socket);
    if (!state) states.set(socket, (state = {}));
    return state;
  };

  const socketsPerUser = new SocketsPerUser(config.WS_MAX_SOCKETS_PER_USER, logger);
  const operationsPerSocket = new OperationsPerSocket(config.WS_MAX_SUBSCRIPTIONS_PER_SOCKET, logger);

  wsServer.on('connection', (socket) => {
    screenIncomingFrames(socket, config.WS_MAX_MESSAGES_PER_SECOND, logger);
    metrics.openConnections.inc();
    socket.on('close', () => {
      metrics.openConnections.dec();
      clearTimeout(states.get(socket)?.expiryTimer);
    });
  });

  serveGraphQLWs(
    {
      connectionInitWaitTimeout: config.WS_CONNECTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        try {
          const principal = await gateway.auth.authenticate(authorizationFrom(ctx.connectionParams));
          if (!socketsPerUser.admit(socket, principal.userId)) return false;
          const state = stateOf(socket);
          state.principal = principal;
          if (principal.expiresAt !== null) {
            // setTimeout takes at most 2^31-1 ms; tokens living longer than ~24 days are re-checked then.
            const delay = Math.min(Math.max(0, principal.expiresAt - Date.now()), 2 ** 31 - 1);
            state.expiryTimer = setTimeout(() => socket.close(CloseCode.Forbidden, 'Token expired'), delay);
          }
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const overLimit = operationsPerSocket.refusal(ctx.extra.socket, ctx.subscriptions);
        if (overLimit) return [overLimit];
        const principal = stateOf(ctx.extra.socket).principal;
        const enveloped = yoga.getEnveloped({ principal, params: payload } as never);
        let document;
        try {
          document = enveloped.parse(payload.query);
        } catch (error) {
          return [withoutHttpDetail(toClientError(error, logger))];
        }
        const errors = enveloped.validate(enveloped.schema, document) as readonly GraphQLError[];
        if (errors.length > 0) return errors.map((error) => withoutHttpDetail(toClientError(error, logger)));
        const refusal = operationRefusal(enveloped.schema, document, payload.operationName, payload.variables, config.MAX_OPERATION_COST);
        if (refusal) return [refusal];
        if (getOperationAST(document, payload.operationName)?.operation === OperationTypeNode.SUBSCRIPTION) {
          // Past parsing, validation and limits a subscription needs nothing more of envelop: events
          // go from the follower through the shared execution to the socket (`subscribe` below),
          // without yoga's context and per-event layers held by every subscription.
          return {
            schema: enveloped.schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue: createContext(gateway, () => (principal ? Promise.resolve(principal) : gateway.auth.authenticate(undefined))),
          };
        }
        return {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute },
        };
      },
      execute: (args) => (args.rootValue as { execute: typeof import('graphql').execute }).execute(args),
      subscribe: (args) => sharedEvents.subscribe(args, maskError),
    },
    wsServer,
    {
      keepAliveMs: KEEP_ALIVE_MS,
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      onSlowConsumer: (_socket, bufferedAmount) => {
        metrics.slowConsumersClosed.inc();
        logger.warn({ bufferedAmount }, 'closing a WebSocket that fell too far behind (1013)');
      },
      onSocketError: (error) => logger.warn({ err: error }, 'WebSocket failed'),
    },
  );
  return wsServer;
}
