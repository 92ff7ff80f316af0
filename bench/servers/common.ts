/**
 * What every server under test answers besides its own job: its CPU time and memory as the OS
 * and V8 see them, and publishing events at the same pace, so that servers differ only in how
 * they deliver.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { serveRequests } from '../ipc.ts';

export interface BenchServer {
  url: string;
  /** Publishes one event of the conversation (seq is its number there, from 1). */
  publish(conversationId: string, seq: number): unknown;
  /** Makes the conversations subscribable (ours: creates them for the bench user). */
  prepare?(conversationIds: string[]): Promise<void>;
  handlers?: Record<string, (args: any) => unknown>;
}

export function serveBench(server: BenchServer): void {
  const published = new Map<string, number>();
  serveRequests({
    url: () => server.url,
    prepare: (args: { conversationIds: string[] }) => server.prepare?.(args.conversationIds),
    /** Server CPU time so far, user + system, in microseconds, as the OS accounts it. */
    cpu: () => {
      const { user, system } = process.cpuUsage();
      return user + system;
    },
    memory: () => {
      globalThis.gc?.();
      globalThis.gc?.();
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
