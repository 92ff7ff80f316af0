/**
 * graphql-ws (graphql-transport-ws) on the shared port, beside the older sockets
 * (protocols/seed-sockets.ts). Authentication happens once, at connection_init; the socket is closed with 4403 when the token expires. Every operation is
 * parsed, validated and limited through yoga's envelop, and its errors masked as over HTTP;
 * queries and mutations run through envelop too, subscriptions through the shared execution.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, OperationTypeNode, getOperationAST } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal } from '../../experience/auth.ts';
import type { Gateway } from '../../gateway.ts';
import { SocketContext, authorizationFrom } from './context.ts';
import { clientErrorMasking, toClientError } from './errors.ts';
import { serveGraphQLWs } from './graphql-ws-server.ts';
import { tracingRegistered } from './operation-spans.ts';
import { carrierFrom, type TraceCarrier } from '../../tracing/spans.ts';
import { operationRefusal } from '../limits/operation-limits.ts';
import { createSeedSockets } from '../protocols/seed-sockets.ts';
import type { SharedEventExecution } from '../fan-out/shared-execution.ts';
import { GRAPHQL_WS_SERVER_ONLY, IncomingFrames, OperationsPerSocket, SocketsPerUser, closeWhenTokenExpires } from '../limits/socket-limits.ts';
import type { Yoga } from './yoga.ts';

/** What an admitted socket holds: who it is, and the timer that closes it when their token expires. */
interface SocketState {
  principal: Principal;
  /** The client's trace context, which its queries and mutations continue (see operation-spans.ts). */
  trace: TraceCarrier | undefined;
  context: SocketContext;
  expiryTimer: NodeJS.Timeout | undefined;
}

/** graphql-ws's default: a socket that does not answer a ping within this is dropped. */
const KEEP_ALIVE_MS = 12_000;

/** Yoga marks request errors with the HTTP status they would get; a WebSocket has none. */
function withoutHttpDetail(error: GraphQLError): GraphQLError {
  const { http: _httpStatus, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { nodes: error.nodes, path: error.path, extensions });
}

/** The gateway's WebSockets: the server holding them, and what takes an upgrade request for one of their paths. */
export interface GatewayWebSockets {
  wsServer: WebSocketServer;
  /** Takes the upgrade when it is for /graphql or an older socket's path; false leaves it to the caller. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

export function createWebSockets(yoga: Yoga, gateway: Gateway, sharedEvents: SharedEventExecution): GatewayWebSockets {
  const { config, logger, metrics } = gateway;
  const maskError = clientErrorMasking(config.production, logger);
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: config.WS_MAX_PAYLOAD_BYTES });
  /** The upgrade requests' trace contexts until connection_init, kept only when tracing is on. */
  const upgradeTraces = new WeakMap<WebSocket, TraceCarrier>();
  const tracing = tracingRegistered();
  // One count for every WebSocket of a user, whichever protocol it speaks.
  const socketsPerUser = new SocketsPerUser(config.WS_MAX_SOCKETS_PER_USER, logger);
  // The older sockets share the server (its payload limit, and the shutdown that closes its
  // clients) but are handed over directly rather than through 'connection', which is graphql-ws's.
  const seedSockets = createSeedSockets(gateway, wsServer, socketsPerUser);
  const handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === yoga.graphqlEndpoint) {
      wsServer.handleUpgrade(request, socket, head, (ws) => {
        const carrier = tracing ? carrierFrom(request.headers) : undefined;
        if (carrier) upgradeTraces.set(ws, carrier);
        wsServer.emit('connection', ws, request);
      });
      return true;
    }
    if (seedSockets.serves(path)) {
      seedSockets.upgrade(request, socket, head, path);
      return true;
    }
    return false;
  };
  const operationsPerSocket = new OperationsPerSocket(config.WS_MAX_SUBSCRIPTIONS_PER_SOCKET, logger);

  serveGraphQLWs<SocketState>(
    {
      connectionInitWaitMs: config.WS_CONNECTION_INIT_TIMEOUT_MS,
      onConnect: async ({ socket }, connectionParams) => {
        let principal: Principal;
        try {
          principal = await gateway.auth.authenticate(authorizationFrom(connectionParams));
        } catch {
          return false; // closed with 4403 Forbidden
        }
        if (socket.readyState !== socket.OPEN) return false;
        if (!socketsPerUser.admit(socket, principal.userId)) return false;

        const expiryTimer = closeWhenTokenExpires(socket, principal.expiresAt);
        const trace = tracing ? (carrierFrom(connectionParams) ?? upgradeTraces.get(socket)) : undefined;
        return { principal, trace, context: new SocketContext(gateway, principal), expiryTimer };
      },
      onSubscribe: async (connection, payload) => {
        const overLimit = operationsPerSocket.refusal(connection.socket, connection.openOperations);
        if (overLimit) return [overLimit];
        const state = connection.state!;
        const principal = state.principal;
        const enveloped = yoga.getEnveloped({ principal, traceCarrier: state.trace, params: payload } as never);
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
            contextValue: state.context,
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
      subscribe: (args) => sharedEvents.subscribePushed(args, maskError),
      onOpen: () => metrics.openConnections.inc(),
      onClose: ({ state }) => {
        metrics.openConnections.dec();
        if (!state) return;
        clearTimeout(state.expiryTimer);
        socketsPerUser.release(state.principal.userId);
      },
    },
    wsServer,
    {
      keepAliveMs: KEEP_ALIVE_MS,
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      coalesceMs: config.WS_COALESCE_MS,
      screenFor: (socket) => new IncomingFrames(socket, config.WS_MAX_MESSAGES_PER_SECOND, logger, GRAPHQL_WS_SERVER_ONLY),
      onSlowConsumer: (_socket, bufferedAmount) => {
        metrics.slowConsumersClosed.inc();
        logger.warn({ bufferedAmount }, 'closing a WebSocket that fell too far behind (1013)');
      },
      onSocketError: (error) => logger.warn({ err: error }, 'WebSocket failed'),
      onProtocolViolation: (error) => logger.warn({ reason: error.message }, 'a WebSocket broke the protocol'),
    },
  );
  return { wsServer, handleUpgrade };
}
