/**
 * A socket's frames go out together rather than one write (a syscall, and a wake-up of the
 * client) each:
 * - the frames of one tick in one write: an event is pushed to its subscribers as it is appended,
 *   so a replayed page, or a run appending several events at once, would otherwise make one write
 *   per frame; the socket is corked until the tick ends, and every socket written in the tick is
 *   flushed after the work that made its frames rather than in between;
 * - the frames that follow the socket's last write by less than the coalescing window wait until
 *   the window is over, and go out in one write then: a model streams its tokens one network read
 *   (one tick) apart, and a stream written a token at a time costs the server and the client a
 *   write and a wake-up per token. A frame waits at most the window (1 ms by default), and one
 *   after a quiet spell not at all, so a watcher sees no difference;
 * - while the server is busy, the frames of a socket that wrote since the event loop last waited
 *   for input (for less than the window in all) wait for the next turn of the loop, and go out
 *   with what that turn adds. With many streams at once a turn outlasts the window, so each
 *   stream's next token comes a turn later and the window alone would write every token on its
 *   own: on a loopback connection the write is most of a token's cost, and the streams' writes
 *   would keep the server busy. A frame then waits one turn more, which a server with time to
 *   spare never makes it do: its loop waits between one stream's tokens.
 */
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** Past this many bytes held back, a socket is flushed at once: a large replay must not wait in memory. */
const FLUSH_AT_BYTES = 64 * 1024;

export interface WritePolicy {
  /** Unsent bytes past which the client counts as too slow. */
  maxBufferedBytes: number;
  /**
   * Frames this soon (ms) after the socket's last write wait for the window's end, and those of
   * a socket that wrote since the loop last waited (for less than this) for the loop's next turn;
   * 0: only a tick's frames go together.
   */
  coalesceMs: number;
}

/** Sockets corked until the current tick ends, until the current window ends, and until the loop's next turn ends. */
const dueThisTick: Duplex[] = [];
const dueAfterWindow: Duplex[] = [];
const dueNextTurn: Duplex[] = [];
/**
 * When a socket last wrote what it held back (performance.now()), and how long the event loop
 * had then waited for input since the process started (ms), kept on the socket itself: a
 * WeakMap's insertion, once per flush, cost more than the rest of the flush.
 */
const LAST_FLUSH_AT = Symbol('lastFlushAt');
const LOOP_IDLE_AT_LAST_FLUSH = Symbol('loopIdleAtLastFlush');
type Flushed = Duplex & { [LAST_FLUSH_AT]?: number; [LOOP_IDLE_AT_LAST_FLUSH]?: number };
/** Node's own count of the time its event loop waited for input (`idleTime`, ms); reading it costs tens of nanoseconds. */
const loop = performance.nodeTiming;

// ws keeps its net.Socket as `_socket`; its Sender corks it around each frame, which nests in ours.
const streamOf = (socket: WebSocket) => (socket as unknown as { _socket?: Duplex })._socket;

/** Holds the socket's writes until the current tick ends, the window after its last write, or the loop's next turn (call before each send). */
export function holdWrites(socket: WebSocket, coalesceMs: number): void {
  const stream: Flushed | undefined = streamOf(socket);
  if (!stream) return;
  if (stream.writableCorked > 0) {
    if (stream.writableLength >= FLUSH_AT_BYTES) flushHeldWrites(socket);
    return;
  }
  stream.cork();
  const lastFlushAt = stream[LAST_FLUSH_AT];
  if (coalesceMs === 0 || lastFlushAt === undefined) {
    if (dueThisTick.push(stream) === 1) process.nextTick(flushThisTick);
  } else if (performance.now() - lastFlushAt < coalesceMs) {
    if (dueAfterWindow.push(stream) === 1) setTimeout(flushAfterWindow, coalesceMs);
  } else if (loop.idleTime - stream[LOOP_IDLE_AT_LAST_FLUSH]! < coalesceMs) {
    if (dueNextTurn.push(stream) === 1) setImmediate(waitOneTurnMore);
  } else if (dueThisTick.push(stream) === 1) {
    process.nextTick(flushThisTick);
  }
}

/**
 * Writes what the socket holds back now (it stays corked until the tick, window or turn ends):
 * what is left unsent afterwards is what the client has not taken, as a slow-consumer check must
 * see it.
 */
export function flushHeldWrites(socket: WebSocket): void {
  const stream = streamOf(socket);
  if (!stream || stream.writableCorked === 0) return;
  stream.uncork();
  stream.cork();
}

const flushThisTick = () => flush(dueThisTick);
const flushAfterWindow = () => flush(dueAfterWindow);
/**
 * Queued twice with setImmediate, so that it runs after one whole turn of the loop (its timers,
 * its input and its setImmediate callbacks). Queued once, it would run at the end of the turn it
 * was queued in when queued from the turn's timers or input, and when queued from the turn's end
 * (where a stream that resumes with setImmediate emits), in the next turn but before the
 * callbacks the streams queued after it.
 */
const waitOneTurnMore = () => setImmediate(flushNextTurn);
const flushNextTurn = () => flush(dueNextTurn);

function flush(streams: Flushed[]): void {
  const now = performance.now();
  const loopIdle = loop.idleTime;
  for (const stream of streams.splice(0)) {
    stream.uncork();
    stream[LAST_FLUSH_AT] = now;
    stream[LOOP_IDLE_AT_LAST_FLUSH] = loopIdle;
  }
}

/**
 * Sends `frame` unless the client has fallen more than `maxBufferedBytes` behind: false then,
 * and the caller closes the socket (1013) so that the client resumes rather than being
 * buffered for without bound. Frames held back count only once flushed and still untaken.
 */
export function sendWithinBacklog(socket: WebSocket, frame: string, policy: WritePolicy): boolean {
  if (socket.bufferedAmount > policy.maxBufferedBytes) {
    flushHeldWrites(socket);
    if (socket.bufferedAmount > policy.maxBufferedBytes) return false;
  }
  holdWrites(socket, policy.coalesceMs);
  socket.send(frame);
  return true;
}
