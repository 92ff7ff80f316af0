/**
 * An RxJS-style observable (what HttpAgent.run returns) as an async iterable, so that each
 * event is applied (appended to the log) before the next is read. Unsubscribes when the
 * consumer stops early or `signal` aborts.
 */
interface Subscribable<T> {
  subscribe(observer: { next(value: T): void; error(error: unknown): void; complete(): void }): { unsubscribe(): void };
}

export async function* eventsOf<T>(source: Subscribable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const buffered: T[] = [];
  let ended: { error: unknown } | 'complete' | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const subscription = source.subscribe({
    next: (value) => {
      buffered.push(value);
      notify();
    },
    error: (error) => {
      ended = { error };
      notify();
    },
    complete: () => {
      ended = 'complete';
      notify();
    },
  });
  signal.addEventListener('abort', notify, { once: true });
  try {
    for (;;) {
      while (buffered.length > 0) yield buffered.shift() as T;
      signal.throwIfAborted();
      const end = ended as { error: unknown } | 'complete' | null;
      if (end === 'complete') return;
      if (end) throw end.error;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener('abort', notify);
    subscription.unsubscribe();
  }
}
