/**
 * graphql-ws on a `ws` server, as graphql-ws/use/ws does it, except for how a send meets a slow
 * client. graphql-ws awaits each send; the stock adapter resolves it only once the bytes reached
 * the kernel, so a stalled client holds its subscriptions at one message each, its backlog hidden
 * in their event buffers where no socket limit sees it. Here a send hands the frame to the socket
 * and returns: the backlog is the socket's unsent data (`bufferedAmount`), and once it passes
 * `maxBufferedBytes` the socket is closed with 1013 at once, whatever its number of
 * subscriptions, and every one of them ends then rather than when the close handshake completes.
 *
 * Subscribers that share an event's execution (shared-execution.ts) are handed the same result
 * object; its JSON is made once and each subscriber's frame only adds its own operation id.
 */
import type { FormattedExecutionResult } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';

/** Only the socket: keeping the upgrade request too would hold its headers for the socket's life. */
export interface SocketExtra {
  readonly socket: WebSocket;
}

export interface SocketPolicy {
  /** A socket that has not answered the previous ping by the next one is dropped. */
  keepAliveMs: number;
  /** Unsent bytes past which the socket is closed with 1013 (the client resumes with afterSeq). */
  maxBufferedBytes: number;
  /** Called once per socket closed for being too slow. */
  onSlowConsumer(socket: WebSocket, bufferedAmount: number): void;
  /** A socket failed (a protocol violation by the client, a reset connection). */
  onSocketError(error: Error): void;
}

/** "Try again later": the client fell too far behind; it reconnects and resumes with afterSeq. */
export const CLOSE_SLOW_CONSUMER = 1013;

export function serveGraphQLWs(
  options: ServerOptions<Record<string, unknown> | undefined, SocketExtra>,
  wsServer: WebSocketServer,
  policy: SocketPolicy,
): void {
  const payloads = new PayloadSerializer();
  const { onNext } = options;
  const server = makeServer({
    ...options,
    // The result itself rather than graphql-ws's copy of it: its identity is what is shared.
    onNext: onNext
      ? async (ctx, id, payload, args, result) => (await onNext(ctx, id, payload, args, result)) ?? (result as FormattedExecutionResult)
      : (_ctx, _id, _payload, _args, result) => result as FormattedExecutionResult,
    jsonMessageReplacer: payloads.replacer,
  });
  wsServer.options.handleProtocols = handleProtocols;

  // One timer for every socket rather than one each: idle connections should cost little.
  const awaitingPong = new WeakSet<WebSocket>();
  function forgetPing(this: WebSocket) {
    awaitingPong.delete(this);
  }
  const keepAlive = setInterval(() => {
    for (const socket of wsServer.clients) {
      if (awaitingPong.has(socket)) {
        socket.terminate();
        continue;
      }
      awaitingPong.add(socket);
      socket.ping();
    }
  }, policy.keepAliveMs);
  keepAlive.unref();
  wsServer.once('close', () => clearInterval(keepAlive));

  wsServer.on('connection', (socket) => {
    let ended = false;
    let closed: ((code?: number, reason?: string) => Promise<void>) | undefined;
    const end = (code: number, reason: string) => {
      if (ended) return;
      ended = true;
      void closed?.(code, reason);
    };
    const tooSlow = () => {
      const { bufferedAmount } = socket;
      policy.onSlowConsumer(socket, bufferedAmount);
      socket.close(CLOSE_SLOW_CONSUMER, 'Too far behind: reconnect and resume with afterSeq');
      end(CLOSE_SLOW_CONSUMER, 'Too far behind');
    };
    // `on` rather than `once` for 'error' and 'close', which ws emits at most once per socket:
    // `once` wraps each listener in a bound function with state of its own, hundreds of bytes
    // per socket. The pong handler is one function shared by every socket.
    socket.on('pong', forgetPing);
    socket.on('error', (error) => {
      policy.onSocketError(error);
      socket.terminate();
    });
    closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          const message = payloads.complete(data);
          if (ended || socket.readyState !== socket.OPEN) return;
          if (socket.bufferedAmount > policy.maxBufferedBytes) return tooSlow();
          socket.send(message);
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data) => {
            handle(String(data)).catch((error: unknown) => {
              policy.onSocketError(error as Error);
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket },
    );
    socket.on('close', (code, reason) => end(code, String(reason)));
  });
}

/**
 * JSON of message payloads, made once per payload object. graphql-ws stringifies each message
 * itself, synchronously right before handing it to `send`: the replacer swaps the payload for a
 * placeholder and notes its JSON (made or found), and `complete` puts that JSON in its place.
 */
class PayloadSerializer {
  private static readonly PLACEHOLDER = '\u0000payload';
  /** The placeholder as it appears in a message; payload comes last in graphql-ws's messages. */
  private static readonly QUOTED = JSON.stringify(PayloadSerializer.PLACEHOLDER);
  private readonly json = new WeakMap<object, string>();
  private pending: string | null = null;

  readonly replacer = (key: string, value: unknown): unknown => {
    if (key !== 'payload' || value === null || typeof value !== 'object') return value;
    let json = this.json.get(value);
    if (json === undefined) this.json.set(value, (json = JSON.stringify(value)));
    this.pending = json;
    return PayloadSerializer.PLACEHOLDER;
  };

  complete(message: string): string {
    const json = this.pending;
    this.pending = null;
    const at = json === null ? -1 : message.lastIndexOf(PayloadSerializer.QUOTED);
    if (at < 0) return message;
    return message.slice(0, at) + json + message.slice(at + PayloadSerializer.QUOTED.length);
  }
}
