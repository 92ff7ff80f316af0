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
 *   after a quiet spell not at all, so a watcher sees no difference.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** Past this many bytes held back, a socket is flushed at once: a large replay must not wait in memory. */
const FLUSH_AT_BYTES = 64 * 1024;

export interface WritePolicy {
  /** Unsent bytes past which the client counts as too slow. */
  maxBufferedBytes: number;
  /** Frames this soon (ms) after the socket's last write wait for the window's end; 0: only a tick's frames go together. */
  coalesceMs: number;
}

/** Sockets corked until the current tick ends, and those corked until the current window ends. */
const dueThisTick: Duplex[] = [];
const dueAfterWindow: Duplex[] = [];
/**
 * When a socket last wrote what it held back (performance.now()), kept on the socket itself: a
 * WeakMap's insertion, once per flush, cost more than the rest of the flush.
 */
const LAST_FLUSH_AT = Symbol('lastFlushAt');
type Flushed = Duplex & { [LAST_FLUSH_AT]?: number };

// ws keeps its net.Socket as `_socket`; its Sender corks it around each frame, which nests in ours.
const streamOf = (socket: WebSocket) => (socket as unknown as { _socket?: Duplex })._socket;

/** Holds the socket's writes until the current tick ends, or the window after its last write (call before each send). */
export function holdWrites(socket: WebSocket, coalesceMs: number): void {
  const stream: Flushed | undefined = streamOf(socket);
  if (!stream) return;
  if (stream.writableCorked > 0) {
    if (stream.writableLength >= FLUSH_AT_BYTES) flushHeldWrites(socket);
    return;
  }
  stream.cork();
  const last = stream[LAST_FLUSH_AT];
  if (coalesceMs > 0 && last !== undefined && performance.now() - last < coalesceMs) {
    if (dueAfterWindow.push(stream) === 1) setTimeout(flushAfterWindow, coalesceMs);
  } else if (dueThisTick.push(stream) === 1) {
    process.nextTick(flushThisTick);
  }
}

/**
 * Writes what the socket holds back now (it stays corked for the rest of the tick or window):
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

function flush(streams: Flushed[]): void {
  const now = performance.now();
  for (const stream of streams.splice(0)) {
    stream.uncork();
    stream[LAST_FLUSH_AT] = now;
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
