/**
 * The coalescing window that a process's runs share (see RunAppender): one timer for every run
 * whose streamed text waits, so that when it fires their batches all go out in the same turn of
 * the event loop. On Redis, commands sent in one turn go out in one write: a timer per run would
 * send each run's batch in a turn, and a write to Redis, of its own. The timer fires at the
 * earliest end among the waiting runs' windows, so that none waits longer than its window; the
 * others go out with it, a little early.
 */
export class AppendWindow {
  private waiting: (() => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires (performance.now()); Infinity while none is set. */
  private firesAt = Infinity;

  /** @param ms how long streamed text waits after its run's last append */
  constructor(readonly ms: number) {}

  /** Calls `send` at `until` (performance.now()) at the latest, together with every other run waiting then. */
  wait(until: number, send: () => void): void {
    this.waiting.push(send);
    if (until >= this.firesAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.firesAt = until;
    this.timer = setTimeout(this.fire, until - performance.now());
  }

  private readonly fire = (): void => {
    this.timer = null;
    this.firesAt = Infinity;
    const waiting = this.waiting;
    this.waiting = [];
    for (const send of waiting) send();
  };
}
