import type { LockService } from '../interfaces.ts';

/** In-process mutual exclusion per key: callers queue behind the holder, first come first served. */
export class MemoryLockService implements LockService {
  private readonly tails = new Map<string, Promise<unknown>>();

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      // Forget the key once nobody queued behind us, so the map does not grow with every key.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
