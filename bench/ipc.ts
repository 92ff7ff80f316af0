/**
 * Request and answer between the benchmark and its child processes (servers and subscriber
 * pools), over Node's IPC channel: each child does one job and the benchmark drives it.
 */
import { fork, type ChildProcess } from 'node:child_process';

type Handler = (args: any) => unknown;

/** In a child: answers the parent's requests with the named handlers. */
export function serveRequests(handlers: Record<string, Handler>): void {
  process.on('message', async (message: { id: number; type: string; args: unknown }) => {
    // Exiting rather than being killed lets --cpu-prof write its profile.
    if (message.type === 'exit') process.exit(0);
    try {
      const result = await handlers[message.type]!(message.args);
      process.send!({ id: message.id, result });
    } catch (error) {
      process.send!({ id: message.id, error: String((error as Error)?.stack ?? error) });
    }
  });
  process.send!({ id: 0, result: 'started' });
}

/** A child process running one of the benchmark's scripts, asked things by request. */
export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  readonly started: Promise<void>;

  private constructor(readonly process: ChildProcess) {
    let started!: () => void;
    this.started = new Promise((resolve) => (started = resolve));
    process.on('message', (message: { id: number; result?: unknown; error?: string }) => {
      if (message.id === 0) return started();
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message.result);
    });
    process.once('exit', (code) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`child exited (${code})`));
    });
  }

  /** With `profileDir`, the child writes a V8 CPU profile there when it stops. */
  static async start(script: string, env: Record<string, string> = {}, profileDir?: string): Promise<Child> {
    const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const child = new Child(
      fork(new URL(script, import.meta.url), [], {
        execArgv: ['--import', 'tsx', '--expose-gc', '--max-old-space-size=4096', ...profile],
        env: { ...process.env, ...env },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await child.started;
    return child;
  }

  request<T = any>(type: string, args: unknown = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.process.send({ id, type, args });
    });
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.send({ id: 0, type: 'exit' });
    const killer = setTimeout(() => this.process.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }
}
