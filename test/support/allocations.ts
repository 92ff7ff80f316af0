/**
 * Bytes allocated on V8's heap over a stretch of time: what is in use at its end less what was at
 * its start, plus what each garbage collection in between freed (V8 counts no total itself).
 * Buffers' memory outside the heap is not counted. Used by the tests that count what a path
 * allocates and by the benchmarks' servers.
 */
import { GCProfiler, getHeapStatistics } from 'node:v8';

export class AllocationCount {
  private profiler: GCProfiler | null = null;
  private usedAtStart = 0;

  start(): void {
    this.profiler?.stop();
    this.profiler = new GCProfiler();
    this.usedAtStart = getHeapStatistics().used_heap_size;
    this.profiler.start();
  }

  /** The bytes allocated since `start`; counting stops. */
  stop(): number {
    const usedNow = getHeapStatistics().used_heap_size;
    const statistics = this.profiler?.stop().statistics ?? [];
    this.profiler = null;
    const freed = statistics.reduce((sum, { beforeGC, afterGC }) => sum + beforeGC.heapStatistics.usedHeapSize - afterGC.heapStatistics.usedHeapSize, 0);
    return usedNow - this.usedAtStart + freed;
  }
}

/** The bytes `work` allocates on V8's heap. */
export function bytesAllocatedBy(work: () => void): number {
  const count = new AllocationCount();
  count.start();
  work();
  return count.stop();
}
