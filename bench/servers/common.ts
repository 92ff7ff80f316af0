/**
 * What every server under test answers besides its own job: its CPU time and memory as the OS
 * and V8 see them, the bytes it allocates, and publishing events at the same pace, so that
 * servers differ only in how they deliver.
 */
import { Socket } from 'node:net';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import WebSocket from 'ws';
import { publishedAt, wallClockMs } from '../event.ts';
import { serveRequests } from '../ipc.ts';
import { AllocationCount } from '../../test/support/allocations.ts';

export interface BenchServer {
  url: string;
  /** Publishes one event of the conversation (seq is its number there, from 1). */
  publish(conversationId: string, seq: number): unknown;
  /** Makes the conversations subscribable (ours: creates them for the bench user). */
  prepare?(conversationIds: string[]): Promise<void>;
  /** Resolves once every event published so far is delivered as far as the server goes (ours: stored), for a memory reading. */
  settle?(): Promise<void>;
  handlers?: Record<string, (args: any) => unknown>;
}

export interface GarbageCollection {
  /** Wall-clock start, ms (as event.ts's wallClockMs). */
  at: number;
  ms: number;
  kind: string;
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

/**
 * While recording: [publish time, ms until the frame was written to its socket] per event frame
 * sent. Every server under test sends with `ws` onto a `net.Socket`, so this is the server's own
 * part of the latency, measured the same way for each (a server that holds frames back to write
 * them together is timed at the write, not at the hand-over), and no subscriber process's
 * scheduling adds to it.
 */
let sends: [number, number][] | null = null;
/** Per socket: the publish times of the frames handed to it and not yet written. */
const unwritten = new WeakMap<object, number[]>();
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (this: WebSocket, data: Parameters<WebSocket['send']>[0], ...rest: unknown[]) {
  const socket = (this as unknown as { _socket?: object })._socket;
  if (sends && socket && typeof data === 'string') {
    const at = publishedAt(data);
    if (!Number.isNaN(at)) {
      const pending = unwritten.get(socket);
      if (pending) pending.push(at);
      else unwritten.set(socket, [at]);
    }
  }
  return (send as (...args: unknown[]) => void).call(this, data, ...rest);
} as WebSocket['send'];
// Node's one path for a socket's write and writev, where the bytes go to the kernel.
const socketPrototype = Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
const writeGeneric = socketPrototype._writeGeneric;
socketPrototype._writeGeneric = function (this: object, ...args: unknown[]) {
  const pending = sends && unwritten.get(this);
  if (pending?.length) {
    const now = wallClockMs();
    for (const at of pending) sends!.push([at, now - at]);
    pending.length = 0;
  }
  return writeGeneric.apply(this, args);
};

const allocations = new AllocationCount();

export function serveBench(server: BenchServer): void {
  const published = new Map<string, number>();
  // The server's garbage collections in wall-clock time, to set beside late deliveries.
  const collections: GarbageCollection[] = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      collections.push({
        at: performance.timeOrigin + entry.startTime,
        ms: entry.duration,
        kind: GC_KINDS[(entry as PerformanceEntry & { detail: { kind: number } }).detail.kind] ?? 'other',
      });
    }
  }).observe({ entryTypes: ['gc'] });
  serveRequests({
    url: () => server.url,
    prepare: (args: { conversationIds: string[] }) => server.prepare?.(args.conversationIds),
    /** Server CPU time so far, user + system, in microseconds, as the OS accounts it. */
    cpu: () => {
      const { user, system } = process.cpuUsage();
      return user + system;
    },
    recordSends: () => {
      sends = [];
    },
    /** What was recorded since `recordSends`; recording stops. */
    sends: () => {
      const recorded = sends ?? [];
      sends = null;
      return recorded;
    },
    /** Starts counting the bytes allocated on V8's heap, for `allocated`. */
    countAllocations: () => allocations.start(),
    /** The bytes allocated on V8's heap since `countAllocations`; counting stops. */
    allocated: () => allocations.stop(),
    /** The garbage collections that started at or after `since` (wall-clock ms). */
    collections: (args: { since: number }) => collections.filter((collection) => collection.at >= args.since),
    /**
     * What the process holds, once what was published has settled (a publish in flight is no
     * connection's) and its resident size has stopped falling: after a burst of work, V8 and the
     * C allocator hand pages back to the OS over several seconds (one Redis server's RSS fell
     * from 381 to 211 MB in 7 s, idle), and a reading taken at once counts the burst, not what
     * is kept.
     */
    memory: async () => {
      await server.settle?.();
      globalThis.gc?.();
      globalThis.gc?.();
      await residentSizeSettled();
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
      return { rss, heapUsed, external, arrayBuffers };
    },
    /**
     * `count` events to each conversation, a round at a time, yielding to I/O between rounds.
     * Conversations publish concurrently, as independent runs do; each one's events in order.
     */
    publish: async (args: { conversationIds: string[]; count: number; perSecond?: number }) => {
      const started = performance.now();
      for (let round = 0; round < args.count; round += 1) {
        await Promise.all(
          args.conversationIds.map((conversationId) => {
            const seq = (published.get(conversationId) ?? 0) + 1;
            published.set(conversationId, seq);
            return server.publish(conversationId, seq);
          }),
        );
        if (args.perSecond) {
          const due = started + ((round + 1) * 1000) / args.perSecond;
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
        } else {
          await nextTurn();
        }
      }
    },
    ...server.handlers,
  });
}

/** Resolves once the resident size has not fallen by more than 1% for `quietSeconds` (at least `leastSeconds`, at most `mostSeconds`). */
async function residentSizeSettled({ quietSeconds = 5, leastSeconds = 10, mostSeconds = 30 } = {}): Promise<void> {
  let lowest = process.memoryUsage.rss();
  let quiet = 0;
  for (let second = 1; second <= mostSeconds; second += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    globalThis.gc?.();
    const rss = process.memoryUsage.rss();
    quiet = rss < lowest * 0.99 ? 0 : quiet + 1;
    lowest = Math.min(lowest, rss);
    if (second >= leastSeconds && quiet >= quietSeconds) return;
  }
}
