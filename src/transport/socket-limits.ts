/**
 * Bounds on what one WebSocket, and one user's WebSockets, may hold or send, so that nobody can
 * take more than a fair share of an instance. Each refusal is final for what it refuses (the
 * subscribe, the new socket, or the socket flooding us), logged once, and touches nobody else.
 */
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { CloseCode } from 'graphql-ws';
import type { WebSocket } from 'ws';

/**
 * "Too many" (HTTP's 429 in the 4xxx range): a user's sockets beyond their limit, or a socket
 * sending faster than allowed. graphql-ws gives 4429 to a repeated connection_init only, so this
 * wider meaning is ours.
 */
export const CLOSE_TOO_MANY = 4429;

const SERVER_ONLY_MESSAGES = new Set(['next', 'error', 'connection_ack']);

/**
 * Screens a socket's frames (and its protocol errors) before graphql-ws sees them, which is the
 * only way to keep them from it: graphql-ws treats a client's `next` or an oversized frame as its
 * own failure (4500, or a console error), and has no rate limit. A socket over `maxPerSecond` (a token bucket
 * holding one second's worth) is closed with 4429 and nothing more it sent is handled.
 */
export function screenIncomingFrames(socket: WebSocket, maxPerSecond: number, logger: Logger): void {
  let allowance = maxPerSecond;
  let checkedAt = Date.now();
  let refused = false;
  const refuse = (code: number, reason: string) => {
    refused = true;
    logger.warn({ code, reason }, 'closing a WebSocket for what it sent');
    socket.close(code, reason);
  };
  const emit = socket.emit.bind(socket);
  socket.emit = (event: string | symbol, ...args: unknown[]): boolean => {
    if (event === 'error' && isProtocolViolation(args[0])) {
      // ws has closed the socket already (1009 for a frame over WS_MAX_PAYLOAD_BYTES, 1002, 1007);
      // graphql-ws would report it as its own internal error.
      logger.warn({ reason: (args[0] as Error).message }, 'a WebSocket broke the protocol');
      return true;
    }
    if (event !== 'message') return emit(event, ...args);
    if (refused) return false;
    const now = Date.now();
    allowance = Math.min(maxPerSecond, allowance + ((now - checkedAt) / 1000) * maxPerSecond);
    checkedAt = now;
    if (allowance < 1) {
      refuse(CLOSE_TOO_MANY, `Too many messages: at most ${maxPerSecond} a second`);
      return false;
    }
    allowance -= 1;
    const type = messageType(args[0]);
    if (type !== undefined && SERVER_ONLY_MESSAGES.has(type)) {
      // A frame that graphql-transport-ws allows only from the server (next, error, connection_ack).
      refuse(CloseCode.BadRequest, `Unexpected message of type ${type} from a client`);
      return false;
    }
    return emit(event, ...args);
  };
}

/** ws marks what a client did wrong (an oversized or malformed frame) with a WS_ERR_ code. */
function isProtocolViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('WS_ERR_');
}

function messageType(data: unknown): string | undefined {
  try {
    const message: unknown = JSON.parse(String(data));
    const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined; // graphql-ws answers a malformed frame itself (4400)
  }
}

/** Counts each user's open sockets on this instance, admitting up to `maxPerUser`. */
export class SocketsPerUser {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly maxPerUser: number,
    private readonly logger: Logger,
  ) {}

  /** Admits the socket (released when it closes), or closes it with 4429 and answers false. */
  admit(socket: WebSocket, userId: string): boolean {
    const count = this.open.get(userId) ?? 0;
    if (count >= this.maxPerUser) {
      this.logger.warn({ userId, open: count }, 'refusing a WebSocket over its user\'s limit');
      socket.close(CLOSE_TOO_MANY, `Too many open WebSockets for this user: at most ${this.maxPerUser}`);
      return false;
    }
    this.open.set(userId, count + 1);
    socket.on('close', () => {
      const left = (this.open.get(userId) ?? 1) - 1;
      if (left > 0) this.open.set(userId, left);
      else this.open.delete(userId);
    });
    return true;
  }
}

/**
 * Bounds the operations open on one socket (subscriptions, and queries or mutations in flight):
 * a subscribe beyond the limit gets an error of its own; the socket's others go on.
 */
export class OperationsPerSocket {
  private readonly warned = new WeakSet<WebSocket>();

  constructor(
    private readonly maxPerSocket: number,
    private readonly logger: Logger,
  ) {}

  /**
   * The error for the operation just subscribed, or null. graphql-ws has entered it in `open`
   * already when it asks, so the limit is exceeded when there are more than the limit.
   */
  refusal(socket: WebSocket, open: Readonly<Record<string, unknown>>): GraphQLError | null {
    if (Object.keys(open).length <= this.maxPerSocket) return null;
    if (!this.warned.has(socket)) {
      this.warned.add(socket);
      this.logger.warn({ maxPerSocket: this.maxPerSocket }, 'refusing operations over a WebSocket\'s limit');
    }
    return new GraphQLError(
      `This socket already has ${this.maxPerSocket} operations open (the limit set by WS_MAX_SUBSCRIPTIONS_PER_SOCKET): complete one first, or open another socket.`,
      { extensions: { code: 'BAD_USER_INPUT', limit: 'WS_MAX_SUBSCRIPTIONS_PER_SOCKET' } },
    );
  }
}
