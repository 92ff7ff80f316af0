/**
 * The graphql-transport-ws protocol (as graphql-ws's makeServer speaks it) on a `ws` server, with
 * what makeServer cannot give: an idle connection holds one small object and shares every
 * listener with the others; a subscription whose results are pushed (PushedResults) sends each
 * one as it is made, its frame the result's shared JSON with the subscriber's id in front,
 * without an async step per event; and a send meets a slow client at once: the backlog is the
 * socket's unsent data (`bufferedAmount`), and once it passes `maxBufferedBytes` the socket is
 * closed with 1013, whatever its number of subscriptions, and every one of them ends then.
 *
 * The protocol's rules, as makeServer applies them: one connection_init (another: 4429), within
 * `connectionInitWaitMs` (4408); subscribe only once acknowledged (4401), an id once at a time
 * (4409); a malformed message closes the socket (4400); errors of one operation go to that
 * operation only; either side may complete an operation.
 */
import { GraphQLError, OperationTypeNode, getOperationAST, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType, handleProtocols, validateMessage, type SubscribePayload } from 'graphql-ws';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { Stoppable } from '../../events/event-stream.ts';
import { sendWithinBacklog, type WritePolicy } from '../fan-out/coalesced-writes.ts';
import { OperationsById } from './operations-by-id.ts';

/** Where a subscription's results go, each `next` already the result's JSON. */
export interface ResultSink {
  next(json: string): void;
  error(errors: readonly GraphQLError[]): void;
  complete(): void;
}

/** A subscription whose results are handed over as they are made, until stopped. */
export interface PushedResults {
  readonly pushed: true;
  start(sink: ResultSink): Stoppable;
}

/** One socket speaking the protocol, as the hooks see it. */
export interface Connection<State> {
  readonly socket: WebSocket;
  /** What `onConnect` answered, once acknowledged. */
  state: State | undefined;
  /** Operations open on the socket, including the one being subscribed. */
  readonly openOperations: number;
}

export interface ProtocolHooks<State> {
  /** Milliseconds a socket may wait before its connection_init. */
  connectionInitWaitMs: number;
  /** The socket's state once admitted, or false: the socket is closed with 4403 (unless closed already). */
  onConnect(connection: Connection<State>, connectionParams: Readonly<Record<string, unknown>> | undefined): Promise<State | false>;
  /** The operation's execution arguments, or its errors (sent to that operation only). */
  onSubscribe(connection: Connection<State>, payload: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLError[]>;
  execute(args: ExecutionArgs): Promise<ExecutionResult> | ExecutionResult;
  subscribe(args: ExecutionArgs): Promise<ExecutionResult | PushedResults>;
  /** A socket speaking the protocol opened. */
  onOpen(connection: Connection<State>): void;
  /** It closed (after its operations were stopped). */
  onClose(connection: Connection<State>): void;
}

/** `maxBufferedBytes`: unsent bytes past which the socket is closed with 1013 (the client resumes with afterSeq). */
export interface SocketPolicy extends WritePolicy {
  /** A socket that has not answered the previous ping by the next one is dropped. */
  keepAliveMs: number;
  /**
   * What screens a socket's frames before they are handled: a socket whose frame is refused is
   * closed by the screen, and nothing more it sends is handled.
   */
  screenFor(socket: WebSocket): FrameScreen;
  /** Called once per socket closed for being too slow. */
  onSlowConsumer(socket: WebSocket, bufferedAmount: number): void;
  /** A socket failed (a reset connection, a failure of ours handling its message). */
  onSocketError(error: Error): void;
  /** The client broke the WebSocket protocol (an oversized or malformed frame); ws closed the socket already. */
  onProtocolViolation(error: Error): void;
}

export interface FrameScreen {
  /** Whether to handle a frame of this type (undefined: none could be read). */
  admit(type: string | undefined): boolean;
}

/** "Try again later": the client fell too far behind; it reconnects and resumes with afterSeq. */
export const CLOSE_SLOW_CONSUMER = 1013;

/** An open operation; null while it is being set up. */
type Operation = Stoppable | null;

const CONNECTION = Symbol('graphql-ws connection');
type ServedSocket = WebSocket & { [CONNECTION]?: ProtocolConnection<unknown> };

export function serveGraphQLWs<State>(hooks: ProtocolHooks<State>, wsServer: WebSocketServer, policy: SocketPolicy): void {
  wsServer.options.handleProtocols = handleProtocols;

  // One timer for every socket rather than one each: idle connections should cost little.
  const keepAlive = setInterval(() => {
    for (const socket of wsServer.clients) connectionOf(socket)?.keepAlive();
  }, policy.keepAliveMs);
  keepAlive.unref();
  wsServer.once('close', () => clearInterval(keepAlive));

  wsServer.on('connection', (socket: ServedSocket) => {
    if (socket.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      socket.close(CloseCode.SubprotocolNotAcceptable, 'Subprotocol not acceptable');
      return;
    }
    const connection = new ProtocolConnection(socket, hooks, policy);
    socket[CONNECTION] = connection as ProtocolConnection<unknown>;
    hooks.onOpen(connection);
    // Listeners shared by every socket (`this` is the socket): none holds a closure of its own.
    socket.on('message', onMessage);
    socket.on('pong', onPong);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

const connectionOf = (socket: WebSocket) => (socket as ServedSocket)[CONNECTION];

function onMessage(this: WebSocket, data: RawData) {
  connectionOf(this)?.received(data);
}
function onPong(this: WebSocket) {
  connectionOf(this)?.ponged();
}
function onError(this: WebSocket, error: Error) {
  connectionOf(this)?.failed(error);
}
function onClose(this: WebSocket) {
  connectionOf(this)?.closed();
}

class ProtocolConnection<State> implements Connection<State> {
  state: State | undefined = undefined;
  private initReceived = false;
  private acknowledged = false;
  private awaitingPong = false;
  /** Closed, or closing for being too slow: nothing more is sent. */
  private ended = false;
  private readonly operations = new OperationsById<Operation>();
  private initTimer: NodeJS.Timeout | undefined;
  private readonly screen: FrameScreen;

  constructor(
    readonly socket: WebSocket,
    private readonly hooks: ProtocolHooks<State>,
    private readonly policy: SocketPolicy,
  ) {
    this.screen = policy.screenFor(socket);
    const wait = hooks.connectionInitWaitMs;
    if (wait > 0 && Number.isFinite(wait)) {
      this.initTimer = setTimeout(() => {
        if (!this.initReceived) socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
      }, wait);
    }
  }

  get openOperations(): number {
    return this.operations.size;
  }

  keepAlive(): void {
    if (this.awaitingPong) {
      this.socket.terminate();
      return;
    }
    this.awaitingPong = true;
    this.socket.ping();
  }

  ponged(): void {
    this.awaitingPong = false;
  }

  failed(error: Error): void {
    if (isProtocolViolation(error)) {
      this.policy.onProtocolViolation(error);
      return;
    }
    this.policy.onSocketError(error);
    this.socket.terminate();
  }

  closed(): void {
    if (this.initTimer) clearTimeout(this.initTimer);
    this.end();
    this.hooks.onClose(this);
  }

  received(data: RawData): void {
    let message: { type?: unknown; id?: unknown; payload?: unknown };
    try {
      message = JSON.parse(String(data)) as typeof message;
    } catch {
      message = {};
    }
    const type = typeof message?.type === 'string' ? message.type : undefined;
    if (!this.screen.admit(type)) return;
    try {
      validateMessage(message);
    } catch {
      this.socket.close(CloseCode.BadRequest, 'Invalid message received');
      return;
    }
    this.handle(message as { type: MessageType; id: string; payload: unknown }).catch((error: unknown) => {
      this.policy.onSocketError(error as Error);
      this.socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
  }

  private async handle(message: { type: MessageType; id: string; payload: unknown }): Promise<void> {
    switch (message.type) {
      case MessageType.ConnectionInit:
        return this.init(message.payload);
      case MessageType.Ping:
        this.send(message.payload ? JSON.stringify({ type: MessageType.Pong, payload: message.payload }) : PONG);
        return;
      case MessageType.Pong:
        return;
      case MessageType.Subscribe:
        return this.subscribe(message.id, message.payload as SubscribePayload);
      case MessageType.Complete: {
        const operation = this.operations.get(message.id);
        this.operations.delete(message.id);
        operation?.stop();
        return;
      }
      default:
        // Frames only a server sends are refused by the policy before they get here.
        throw new Error(`Unexpected message of type ${message.type} received`);
    }
  }

  private async init(payload: unknown): Promise<void> {
    if (this.initReceived) {
      this.socket.close(CloseCode.TooManyInitialisationRequests, 'Too many initialisation requests');
      return;
    }
    this.initReceived = true;
    if (this.initTimer) clearTimeout(this.initTimer);
    this.initTimer = undefined;
    const params = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
    const state = await this.hooks.onConnect(this, params);
    if (state === false) {
      if (this.socket.readyState === this.socket.OPEN) this.socket.close(CloseCode.Forbidden, 'Forbidden');
      return;
    }
    this.state = state;
    this.acknowledged = true;
    this.send(CONNECTION_ACK);
  }

  private async subscribe(id: string, payload: SubscribePayload): Promise<void> {
    if (!this.acknowledged) {
      this.socket.close(CloseCode.Unauthorized, 'Unauthorized');
      return;
    }
    if (this.operations.has(id)) {
      this.socket.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
      return;
    }
    this.operations.set(id, null);
    try {
      const argsOrErrors = await this.hooks.onSubscribe(this, payload);
      if (!this.operations.has(id)) return;
      if (Array.isArray(argsOrErrors)) return this.error(id, argsOrErrors);
      const args = argsOrErrors as ExecutionArgs;
      const operation = getOperationAST(args.document, args.operationName);
      if (!operation) return this.error(id, [new GraphQLError('Unable to identify operation')]);
      if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
        const result = await this.hooks.execute(args);
        if (!this.operations.has(id)) return;
        this.next(id, JSON.stringify(result));
        return this.complete(id);
      }
      const outcome = await this.hooks.subscribe(args);
      if (isPushed(outcome)) return this.push(id, outcome);
      if (!this.operations.has(id)) return;
      this.next(id, JSON.stringify(outcome));
      this.complete(id);
    } finally {
      // A pushed subscription stays open past this; anything else is over.
      if (this.operations.get(id) === null) this.operations.delete(id);
    }
  }

  private push(id: string, results: PushedResults): void {
    if (!this.operations.has(id)) {
      // Completed by the client while it was being set up: started only to release what it holds.
      results.start(IGNORED).stop();
      return;
    }
    const operation = new PushedOperation(this as ProtocolConnection<unknown>, id);
    this.operations.set(id, operation);
    operation.attach(results.start(operation));
  }

  /** A pushed operation ended from the server's side, unless it was completed or replaced already. */
  pushedEnded(id: string, operation: PushedOperation, errors: readonly GraphQLError[] | null): void {
    if (this.operations.get(id) !== operation) return;
    if (errors) this.error(id, errors);
    else this.complete(id);
  }

  private next(id: string, json: string): void {
    this.send(`{"id":${JSON.stringify(id)},"type":"next","payload":${json}}`);
  }

  private error(id: string, errors: readonly GraphQLError[]): void {
    this.operations.delete(id);
    this.send(JSON.stringify({ id, type: MessageType.Error, payload: errors }));
  }

  private complete(id: string): void {
    this.operations.delete(id);
    this.send(JSON.stringify({ id, type: MessageType.Complete }));
  }

  send(frame: string): void {
    const { socket } = this;
    if (this.ended || socket.readyState !== socket.OPEN) return;
    if (!sendWithinBacklog(socket, frame, this.policy)) this.tooSlow();
  }

  private tooSlow(): void {
    const { socket } = this;
    this.policy.onSlowConsumer(socket, socket.bufferedAmount);
    socket.close(CLOSE_SLOW_CONSUMER, 'Too far behind: reconnect and resume with afterSeq');
    this.end();
  }

  /** Stops every operation at once, rather than when the close handshake completes. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    const operations = this.operations.values();
    this.operations.clear();
    for (const operation of operations) operation?.stop();
  }
}

/** A pushed subscription as the socket sees it: its frames, its end from either side. */
class PushedOperation implements ResultSink, Stoppable {
  private subscription: Stoppable | null = null;
  private open = true;
  /** Every frame of the subscription starts the same way. */
  private readonly head: string;

  constructor(
    private readonly connection: ProtocolConnection<unknown>,
    private readonly id: string,
  ) {
    this.head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  /** What `start` answered: it may have ended (or been stopped) while starting. */
  attach(subscription: Stoppable): void {
    if (this.open) this.subscription = subscription;
    else subscription.stop();
  }

  next(json: string): void {
    // Concatenated rather than stringified: the result's JSON is shared by its subscribers.
    if (this.open) this.connection.send(this.head + json + '}');
  }

  error(errors: readonly GraphQLError[]): void {
    this.end(errors);
  }

  complete(): void {
    this.end(null);
  }

  stop(): void {
    if (!this.open) return;
    this.open = false;
    this.subscription?.stop();
    this.subscription = null;
  }

  private end(errors: readonly GraphQLError[] | null): void {
    if (!this.open) return;
    this.open = false;
    this.subscription = null;
    this.connection.pushedEnded(this.id, this, errors);
  }
}

const IGNORED: ResultSink = { next: () => undefined, error: () => undefined, complete: () => undefined };
const CONNECTION_ACK = JSON.stringify({ type: MessageType.ConnectionAck });
const PONG = JSON.stringify({ type: MessageType.Pong });

function isPushed(outcome: ExecutionResult | PushedResults): outcome is PushedResults {
  return (outcome as Partial<PushedResults>).pushed === true;
}

/** ws marks what a client did wrong (an oversized or malformed frame) with a WS_ERR_ code. */
function isProtocolViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('WS_ERR_');
}
