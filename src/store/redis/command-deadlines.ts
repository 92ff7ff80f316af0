/**
 * The deadlines of the commands in flight on one connection, kept by one timer rather than one
 * per command: a reply comes in a fraction of a millisecond, and a timer, a race and a promise
 * of their own for every command (what a timeout per command costs) showed on the path of every
 * event. Every command has the same timeout, so deadlines fall in the order commands are sent:
 * only the oldest unanswered ones are ever looked at.
 */
interface Deadline {
  at: number;
  answered: boolean;
  reject(error: Error): void;
}

/** Past this many answered deadlines at the front, the list drops them (answers come in order, so it is rare). */
const COMPACT_AFTER = 1024;

export class CommandDeadlines {
  /** Oldest first, from `head` on; those before `head` are answered or expired. */
  private waiting: Deadline[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly timeoutMs: number) {}

  /** `reply`, or a rejection once it has gone unanswered for the timeout. */
  bound<T>(reply: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline: Deadline = { at: performance.now() + this.timeoutMs, answered: false, reject };
      this.waiting.push(deadline);
      if (this.timer === null) this.arm(this.timeoutMs);
      reply.then(
        (value) => {
          this.answer(deadline);
          resolve(value);
        },
        (error: unknown) => {
          this.answer(deadline);
          reject(error);
        },
      );
    });
  }

  /** How many commands wait for their answer. */
  get pending(): number {
    return this.waiting.length - this.head;
  }

  private answer(deadline: Deadline): void {
    deadline.answered = true;
    this.dropAnswered();
  }

  private dropAnswered(): void {
    const { waiting } = this;
    while (this.head < waiting.length && waiting[this.head]!.answered) this.head += 1;
    if (this.head === waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER) {
      this.waiting = waiting.slice(this.head);
      this.head = 0;
    }
  }

  /** A reference to nothing else: a command in flight keeps the process alive by its socket, not by this. */
  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(delayMs)));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = null;
    const now = performance.now();
    const { waiting } = this;
    for (let index = this.head; index < waiting.length; index += 1) {
      const deadline = waiting[index]!;
      if (deadline.answered) continue;
      if (deadline.at > now) break;
      deadline.answered = true;
      deadline.reject(new Error(`no reply within ${this.timeoutMs} ms`));
    }
    this.dropAnswered();
    const oldest = this.waiting[this.head];
    if (oldest) this.arm(oldest.at - now);
  }
}
