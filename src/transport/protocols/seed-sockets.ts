/**
 * The platform's older WebSockets, `/api/ws/agent` and `/api/runtime/agent` (deprecated, for
 * frontends written against them; docs/seed-sockets.md), served from the same planes as GraphQL:
 * the same auth, routing, idempotency, ordering, cancel and events. Their frames are in
 * seed-frames.ts; this is what a socket does:
 * - The token comes as `Authorization: Bearer <jwt>` or as `session_token` in the query (a
 *   browser's WebSocket cannot set headers). It is checked before the upgrade completes, so no
 *   frame can come first; a refused one gets an UNAUTHENTICATED error frame and close 4403, the
 *   code GraphQL sockets get, and a socket is closed with 4403 when its token expires.
 * - A socket follows one conversation. `conversation_id` in the query follows it from
 *   `after_seq` (replayed, then live), or from now without it; a send follows the conversation
 *   it went to, from just before its message, unless the socket follows that one already. Each
 *   event goes out once, in seq order, across replay and live.
 * - A frame that cannot be read (not JSON, not an object, an unknown type) gets a BAD_USER_INPUT
 *   error frame and closes that socket with 4400, as the contract says of malformed frames. A
 *   frame that can be read but is refused (a field of the wrong type, an empty text, someone
 *   else's conversation: NOT_FOUND) gets an error frame and the socket goes on, as a GraphQL
 *   operation's error leaves its socket open. Nothing refused is stored.
 * - The GraphQL sockets' limits hold: sockets per user (4429, counted with GraphQL's), frames per
 *   second (4429), frame size, and a socket whose unsent frames pass WS_MAX_BUFFERED_BYTES is
 *   closed with 1013, to resume with `after_seq`.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode } from 'graphql-ws';
import type { RawData, WebSocket, WebSocketServer } from 'ws';
import type { StoredEvent } from '../../domain/events.ts';
import { badInput } from '../../errors.ts';
import { countedStream } from '../../events/counted-stream.ts';
import type { EventSink, Stoppable } from '../../events/event-stream.ts';
import type { Principal } from '../../experience/auth.ts';
import type { Gateway } from '../../gateway.ts';
import { CLOSE_SLOW_CONSUMER } from '../graphql/graphql-ws-server.ts';
import { IncomingFrames, closeWhenTokenExpires, type SocketsPerUser } from '../limits/socket-limits.ts';
import { sendWithinBacklog, type WritePolicy } from '../fan-out/coalesced-writes.ts';
import { errorBody } from './plain-http.ts';
import { AgentWsDialect, MalformedFrame, RuntimeDialect, type ErrorBody, type Frame, type SeedCommand, type SeedDialect } from './seed-frames.ts';

/** The label of these sockets' streams in the metrics. */
const PROTOCOL = 'seed-ws';
const AGENT_WS_PATH = '/api/ws/agent';
const RUNTIME_PATH = '/api/runtime/agent';
/** As for GraphQL sockets: one that has not answered the previous ping by the next is dropped. */
const KEEP_ALIVE_MS = 12_000;

/** What the query of a socket's URL asks for, read before it is admitted. */
interface Opening {
  authorization: string | undefined;
  conversationId: string | null;
  afterSeq: number | null;
  allEvents: boolean;
}

export interface SeedSockets {
  /** Whether `path` is one of these sockets'. */
  serves(path: string): boolean;
  /** Authenticates the upgrade request, then completes it on `wsServer` (whose clients every shutdown closes). */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, path: string): void;
}

export function createSeedSockets(gateway: Gateway, wsServer: WebSocketServer, socketsPerUser: SocketsPerUser): SeedSockets {
  const { logger } = gateway;
  const open = new Set<SeedSocket>();
  // One timer for every socket, as for the GraphQL ones.
  const keepAlive = setInterval(() => {
    for (const socket of open) socket.keepAlive();
  }, KEEP_ALIVE_MS);
  keepAlive.unref();
  wsServer.once('close', () => clearInterval(keepAlive));

  async function admit(request: IncomingMessage, socket: Duplex, head: Buffer, path: string): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const opening = openingOf(request, url);
    const checked = await gateway.auth.authenticate(opening.authorization).then(
      (principal) => ({ principal }),
      (error: unknown) => ({ refusal: error }),
    );
    wsServer.handleUpgrade(request, socket, head, (ws) => {
      const dialect: SeedDialect = path === AGENT_WS_PATH ? new AgentWsDialect(gateway.agents) : new RuntimeDialect(opening.allEvents);
      if ('refusal' in checked) {
        refuse(ws, dialect, checked.refusal, CloseCode.Forbidden, 'Forbidden');
        return;
      }
      const { principal } = checked;
      if (opening.afterSeq !== null && opening.conversationId === null) {
        refuse(ws, dialect, badInput('after_seq needs conversation_id: the conversation to resume.', 'after_seq'), CloseCode.BadRequest, 'Bad request');
        return;
      }
      if (!socketsPerUser.admit(ws, principal.userId)) return;
      const seed = new SeedSocket(gateway, ws, principal, dialect, () => {
        open.delete(seed);
        socketsPerUser.release(principal.userId);
      });
      open.add(seed);
      if (opening.conversationId !== null) seed.startFollowing(opening.conversationId, opening.afterSeq);
    });
  }

  function refuse(ws: WebSocket, dialect: SeedDialect, error: unknown, code: number, reason: string): void {
    ws.send(JSON.stringify(dialect.errorFrame(errorBody(error, logger), { seq: 0, conversationId: null })));
    ws.close(code, reason);
  }

  return {
    serves: (path) => path === AGENT_WS_PATH || path === RUNTIME_PATH,
    upgrade(request, socket, head, path) {
      admit(request, socket, head, path).catch((error: unknown) => {
        logger.warn({ err: error }, 'an older socket failed to open');
        socket.destroy();
      });
    },
  };
}

/** `after_seq` is checked once admitted, so that its refusal can be a frame. */
function openingOf(request: IncomingMessage, url: URL): Opening {
  const header = request.headers.authorization;
  const token = url.searchParams.get('session_token');
  const afterSeq = url.searchParams.get('after_seq');
  return {
    authorization: header ?? (token === null ? undefined : `Bearer ${token}`),
    conversationId: url.searchParams.get('conversation_id') || null,
    afterSeq: afterSeq === null || afterSeq === '' ? null : Number(afterSeq),
    allEvents: url.searchParams.get('events') === 'all',
  };
}

/** One admitted socket: its commands handled one at a time, in the order they came. */
class SeedSocket {
  private readonly screen: IncomingFrames;
  private readonly writePolicy: WritePolicy;
  private readonly expiryTimer: NodeJS.Timeout | undefined;
  private following: Followed | null = null;
  /** The conversation the socket follows (or last followed): what its frames that are not events are about. */
  private conversationId: string | null = null;
  /** The last seq delivered of the conversation followed (or to be followed). */
  private lastSeq = 0;
  private commands: Promise<void> = Promise.resolve();
  private awaitingPong = false;
  private ended = false;

  constructor(
    private readonly gateway: Gateway,
    private readonly ws: WebSocket,
    private readonly principal: Principal,
    private readonly dialect: SeedDialect,
    private readonly onClosed: () => void,
  ) {
    const { config, logger, metrics } = gateway;
    this.screen = new IncomingFrames(ws, config.WS_MAX_MESSAGES_PER_SECOND, logger);
    this.writePolicy = { maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES, coalesceMs: config.WS_COALESCE_MS };
    this.expiryTimer = closeWhenTokenExpires(ws, principal.expiresAt);
    metrics.openConnections.inc();
    ws.on('message', (data: RawData) => this.received(data));
    ws.on('pong', () => (this.awaitingPong = false));
    ws.on('error', (error) => {
      // ws has closed a socket that broke the WebSocket protocol (an oversized frame) already.
      logger.warn({ err: error }, 'an older socket failed');
    });
    ws.on('close', () => this.closed());
  }

  keepAlive(): void {
    if (this.awaitingPong) {
      this.ws.terminate();
      return;
    }
    this.awaitingPong = true;
    this.ws.ping();
  }

  /** Follows the conversation from `afterSeq` (from now when null), in turn with the socket's commands. */
  startFollowing(conversationId: string, afterSeq: number | null): void {
    this.enqueue(async () => {
      if (afterSeq !== null && !Number.isSafeInteger(afterSeq)) throw badInput('after_seq must be a seq: a non-negative integer.', 'after_seq');
      // From a definite seq rather than "live": a send through this socket then follows on
      // without a gap between the two.
      const from = afterSeq ?? (await this.checkedLastSeq(conversationId));
      await this.follow(conversationId, from);
    }, conversationId);
  }

  private async checkedLastSeq(conversationId: string): Promise<number> {
    const { conversations } = this.gateway;
    // follow() checks ownership too; lastSeq must not tell anyone of a conversation that is not theirs.
    if (!(await conversations.conversation(this.principal, conversationId))) return 0;
    return conversations.lastSeq(conversationId);
  }

  private received(data: RawData): void {
    // Frames that came with one the socket was closed for are not handled.
    if (this.ended || !this.screen.admit(undefined)) return;
    let command: SeedCommand;
    try {
      command = this.dialect.command(frameOf(data));
    } catch (error) {
      if (error instanceof MalformedFrame) {
        this.sendError(badInput(error.message), null);
        this.ws.close(CloseCode.BadRequest, 'Invalid message received');
        this.end();
        return;
      }
      this.sendError(error, null);
      return;
    }
    this.enqueue(() => this.handle(command), null);
  }

  private enqueue(work: () => Promise<void>, about: string | null): void {
    this.commands = this.commands.then(work).catch((error: unknown) => this.sendError(error, about));
  }

  private async handle(command: SeedCommand): Promise<void> {
    const { conversations } = this.gateway;
    switch (command.kind) {
      case 'send': {
        const sent = await conversations.send(this.principal, command.input);
        const conversationId = sent.conversation.id;
        // Already following it: the run's events come through that follower, in turn.
        if (this.following?.conversationId === conversationId) return;
        await this.follow(conversationId, sent.afterSeq);
        return;
      }
      case 'cancel': {
        const runId = command.runId ?? (await this.activeRunId());
        // Nothing running: as cancelling a finished run, nothing to do.
        if (runId !== null) await conversations.cancel(this.principal, runId);
        return;
      }
      case 'respond':
        await conversations.respond(this.principal, command.answer);
        return;
      case 'ping':
        this.write(this.dialect.pongFrame(this.place(null)));
        return;
    }
  }

  /** The active run of the conversation followed, or null: what a cancel without a run_id cancels. */
  private async activeRunId(): Promise<string | null> {
    if (this.following === null) return null;
    return (await this.gateway.conversations.activeRun(this.following.conversationId))?.id ?? null;
  }

  private async follow(conversationId: string, afterSeq: number): Promise<void> {
    this.following?.stop();
    this.following = null;
    const events = await this.gateway.conversations.follow(this.principal, conversationId, afterSeq);
    if (this.ended) return;
    this.conversationId = conversationId;
    this.lastSeq = afterSeq;
    const followed = new Followed(this, conversationId);
    this.following = followed;
    followed.attach(countedStream(events, this.gateway.metrics, PROTOCOL).push(followed));
  }

  /** An event of the conversation `followed` follows, unless the socket has moved on. */
  delivered(followed: Followed, event: StoredEvent): void {
    if (this.following !== followed) return;
    this.lastSeq = event.seq;
    const frame = this.dialect.eventFrame(event);
    if (frame) this.write(frame);
  }

  /** The stream of `followed` ended (the conversation was deleted, its events expired, …). */
  followEnded(followed: Followed, error: unknown): void {
    if (this.following !== followed) return;
    this.following = null;
    if (error !== null) this.sendError(error, followed.conversationId);
  }

  private sendError(error: unknown, conversationId: string | null): void {
    const body: ErrorBody = errorBody(error, this.gateway.logger);
    this.write(this.dialect.errorFrame(body, this.place(conversationId)));
  }

  private place(conversationId: string | null) {
    return { seq: this.lastSeq, conversationId: conversationId ?? this.conversationId };
  }

  private write(frame: Frame): void {
    const { ws } = this;
    if (this.ended || ws.readyState !== ws.OPEN) return;
    if (sendWithinBacklog(ws, JSON.stringify(frame), this.writePolicy)) return;
    this.gateway.metrics.slowConsumersClosed.inc();
    this.gateway.logger.warn({ bufferedAmount: ws.bufferedAmount }, 'closing an older socket that fell too far behind (1013)');
    ws.close(CLOSE_SLOW_CONSUMER, 'Too far behind: reconnect and resume with after_seq');
    this.end();
  }

  private closed(): void {
    this.end();
    clearTimeout(this.expiryTimer);
    this.gateway.metrics.openConnections.dec();
    this.onClosed();
  }

  /** Stops following at once, rather than when the close handshake completes. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.following?.stop();
    this.following = null;
  }
}

/** One follow of a conversation by a socket, until stopped or the socket moves on. */
class Followed implements EventSink, Stoppable {
  private pushed: Stoppable | null = null;
  private stopped = false;

  constructor(
    private readonly socket: SeedSocket,
    readonly conversationId: string,
  ) {}

  /** What push answered: the stream may have ended (or been stopped) while starting. */
  attach(pushed: Stoppable): void {
    if (this.stopped) pushed.stop();
    else this.pushed = pushed;
  }

  event(event: StoredEvent): void {
    this.socket.delivered(this, event);
  }

  failed(error: unknown): void {
    this.stopped = true;
    this.socket.followEnded(this, error);
  }

  completed(): void {
    this.stopped = true;
    this.socket.followEnded(this, null);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.pushed?.stop();
  }
}

/** The frame as a JSON object; anything else is malformed. */
function frameOf(data: RawData): Frame {
  let frame: unknown;
  try {
    frame = JSON.parse(String(data));
  } catch {
    throw new MalformedFrame('A frame must be JSON.');
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) throw new MalformedFrame('A frame must be a JSON object.');
  return frame as Frame;
}
