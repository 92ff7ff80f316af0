/**
 * Bounds on what one WebSocket, and one user's WebSockets, may hold or send, so that nobody can
 * take more than a fair share of an instance. Each refusal is final for what it refuses (the
 * subscribe, the new socket, or the socket flooding us), logged once, and touches nobody else.
 */
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { CloseCode } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { FrameScreen } from '../graphql/graphql-ws-server.ts';

/**
 * "Too many" (HTTP's 429 in the 4xxx range): a user's sockets beyond their limit, or a socket
 * sending faster than allowed. graphql-ws gives 4429 to a repeated connection_init only, so this
 * wider meaning is ours.
 */
export const CLOSE_TOO_MANY = 4429;

/** The frames graphql-transport-ws allows only from the server. */
export const GRAPHQL_WS_SERVER_ONLY = new Set(['next', 'error', 'connection_ack']);

/**
 * Screens one socket's frames before the protocol handles them: a socket over `maxPerSecond`
 * (a token bucket holding one second's worth) is closed with 4429, and one sending a frame its
 * protocol allows only from the server (`serverOnly`) with 4400; nothing more it sent is handled.
 */
export class IncomingFrames implements FrameScreen {
  private allowance: number;
  private checkedAt = Date.now();
  private refused = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly maxPerSecond: number,
    private readonly logger: Logger,
    private readonly serverOnly: ReadonlySet<string> = new Set(),
  ) {
    this.allowance = maxPerSecond;
  }

  admit(type: string | undefined): boolean {
    if (this.refused) return false;
    const now = Date.now();
    this.allowance = Math.min(this.maxPerSecond, this.allowance + ((now - this.checkedAt) / 1000) * this.maxPerSecond);
    this.checkedAt = now;
    if (this.allowance < 1) return this.refuse(CLOSE_TOO_MANY, `Too many messages: at most ${this.maxPerSecond} a second`);
    this.allowance -= 1;
    if (type !== undefined && this.serverOnly.has(type)) return this.refuse(CloseCode.BadRequest, `Unexpected message of type ${type} from a client`);
    return true;
  }

  private refuse(code: number, reason: string): false {
    this.refused = true;
    this.logger.warn({ code, reason }, 'closing a WebSocket for what it sent');
    this.socket.close(code, reason);
    return false;
  }
}

/**
 * Closes the socket with 4403 when its token expires, as the contract says for every WebSocket
 * (the client refreshes its token and resumes). The timer, to clear when the socket closes, or
 * undefined for a token without `exp`.
 */
export function closeWhenTokenExpires(socket: WebSocket, expiresAt: number | null): NodeJS.Timeout | undefined {
  if (expiresAt === null) return undefined;
  // setTimeout takes at most 2^31-1 ms; tokens living longer than ~24 days are re-checked then.
  const delay = Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1);
  return setTimeout(() => socket.close(CloseCode.Forbidden, 'Token expired'), delay);
}

/** Counts each user's open sockets on this instance, admitting up to `maxPerUser`. */
export class SocketsPerUser {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly maxPerUser: number,
    private readonly logger: Logger,
  ) {}

  /** Admits the socket (to be released when it closes), or closes it with 4429 and answers false. */
  admit(socket: WebSocket, userId: string): boolean {
    const count = this.open.get(userId) ?? 0;
    if (count >= this.maxPerUser) {
      this.logger.warn({ userId, open: count }, "refusing a WebSocket over its user's limit");
      socket.close(CLOSE_TOO_MANY, `Too many open WebSockets for this user: at most ${this.maxPerUser}`);
      return false;
    }
    this.open.set(userId, count + 1);
    return true;
  }

  /** An admitted socket of this user closed. */
  release(userId: string): void {
    const left = (this.open.get(userId) ?? 1) - 1;
    if (left > 0) this.open.set(userId, left);
    else this.open.delete(userId);
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
   * The error for the operation just subscribed, or null. `open` counts it already, so the
   * limit is exceeded when there are more than the limit.
   */
  refusal(socket: WebSocket, open: number): GraphQLError | null {
    if (open <= this.maxPerSocket) return null;
    if (!this.warned.has(socket)) {
      this.warned.add(socket);
      this.logger.warn({ maxPerSocket: this.maxPerSocket }, "refusing operations over a WebSocket's limit");
    }
    return new GraphQLError(
      `This socket already has ${this.maxPerSocket} operations open (the limit set by WS_MAX_SUBSCRIPTIONS_PER_SOCKET): complete one first, or open another socket.`,
      { extensions: { code: 'BAD_USER_INPUT', limit: 'WS_MAX_SUBSCRIPTIONS_PER_SOCKET' } },
    );
  }
}
