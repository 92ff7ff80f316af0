/**
 * Frames for one socket within one tick go out in one write. An event is pushed to its subscribers
 * as it is appended, so a replayed page, or a run appending several events at once, would
 * otherwise make one write (a syscall) per frame; corked until the tick ends, a socket's frames
 * are written together, and every socket written in the tick is flushed after the work that
 * made its frames rather than in between.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** Past this many bytes held back, a socket is flushed at once: a large replay must not wait in memory. */
const FLUSH_AT_BYTES = 64 * 1024;

const corked: Duplex[] = [];

// ws keeps its net.Socket as `_socket`; its Sender corks it around each frame, which nests in ours.
const streamOf = (socket: WebSocket) => (socket as unknown as { _socket?: Duplex })._socket;

/** Holds the socket's writes until the current tick ends (call before each send). */
export function batchWritesThisTick(socket: WebSocket): void {
  const stream = streamOf(socket);
  if (!stream) return;
  if (stream.writableCorked > 0) {
    if (stream.writableLength >= FLUSH_AT_BYTES) flushHeldWrites(socket);
    return;
  }
  stream.cork();
  if (corked.push(stream) === 1) process.nextTick(flush);
}

/**
 * Writes what the socket holds back now (it stays corked for the rest of the tick): what is left
 * unsent afterwards is what the client has not taken, as a slow-consumer check must see it.
 */
export function flushHeldWrites(socket: WebSocket): void {
  const stream = streamOf(socket);
  if (!stream || stream.writableCorked === 0) return;
  stream.uncork();
  stream.cork();
}

function flush(): void {
  for (const stream of corked.splice(0)) stream.uncork();
}

/**
 * Sends `frame` unless the client has fallen more than `maxBufferedBytes` behind: false then,
 * and the caller closes the socket (1013) so that the client resumes rather than being
 * buffered for without bound. Frames held back for this tick count only once flushed and
 * still untaken.
 */
export function sendWithinBacklog(socket: WebSocket, frame: string, maxBufferedBytes: number): boolean {
  if (socket.bufferedAmount > maxBufferedBytes) {
    flushHeldWrites(socket);
    if (socket.bufferedAmount > maxBufferedBytes) return false;
  }
  batchWritesThisTick(socket);
  socket.send(frame);
  return true;
}
