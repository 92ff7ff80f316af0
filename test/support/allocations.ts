/**
 * Bytes allocated on V8's heap over a stretch of time: what is in use at its end less what was at
 * its start, plus what each garbage collection in between freed (V8 counts no total itself).
 * Buffers' memory outside the heap is not counted. Used by the tests that count what a path
 * allocates or keeps and by the benchmarks' servers.
 */
import { GCProfiler, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

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

/** A full garbage collection, without starting node with --expose-gc. */
const collectGarbage = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** The bytes of V8's heap that what `make` returns keeps alive (measured around full collections), and that value. */
export function bytesRetainedBy<T>(make: () => T): { bytes: number; kept: T } {
  collectGarbage();
  const before = getHeapStatistics().used_heap_size;
  const kept = make();
  collectGarbage();
  return { bytes: getHeapStatistics().used_heap_size - before, kept };
}
