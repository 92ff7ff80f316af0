/**
 * A real gateway as a child process (`node --import tsx src/start-gateway.ts`): a free port, a start that
 * awaits /healthz, and the process's exit with everything it printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A TCP port that was free a moment ago (the OS picked it; we released it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<Exit>;
  /** Ends the process if it is still running (SIGKILL), and waits for it. */
  kill(): Promise<Exit>;
}

/**
 * Starts `src/start-gateway.ts` (or another entry, such as `src/start-worker.ts`) with exactly `env` on top of
 * PATH and HOME: nothing of the test runner's environment (NODE_ENV=test, AUTH_JWT_SECRET,
 * REDIS_URL…) leaks in unless given.
 */
export function spawnGateway(env: Record<string, string>, entry = 'src/start-gateway.ts'): ServerProcess {
  return spawnProcess(process.execPath, ['--import', 'tsx', entry], env);
}

/**
 * Runs `npm run <script>` as an operator would, so that signals reach npm itself and not the
 * process it starts: what an orchestrator that started `npm start` does.
 */
export function spawnNpmScript(script: string, env: Record<string, string>, cwd = PROJECT_ROOT): ServerProcess {
  // Its own process group, so that kill() also ends what npm started should npm fail to.
  return spawnProcess('npm', ['run', '--silent', script], env, true, cwd);
}

/** Starts `command` with exactly `env` on top of PATH and HOME (see spawnGateway). */
export function spawnProcess(command: string, args: string[], env: Record<string, string>, group = false, cwd = PROJECT_ROOT): ServerProcess {
  const child = spawn(command, args, {
    cwd,
    detached: group,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    // 'close' (not 'exit') so that the output streams are drained too.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    output: () => output,
    exited,
    kill: () => {
      if (group && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the whole group has already exited
        }
      } else if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

/**
 * The URL a process started on port 0 announces in its log (a JSON line at info level with
 * `url`), once it is healthy there. Unlike a port picked beforehand with freePort(), it cannot be
 * another process' port that a busy machine handed out again in between.
 */
export async function waitForAnnouncedUrl(server: ServerProcess, deadlineMs = 30_000): Promise<string> {
  const url = await new Promise<string>((resolve, reject) => {
    const stdout = server.child.stdout;
    const scan = () => {
      const match = /"url":"(http:\/\/[^"]+)"/.exec(server.output());
      if (match) settle(() => resolve(match[1]!));
    };
    const timer = setTimeout(() => settle(() => reject(new Error(`no URL announced within ${deadlineMs} ms:\n${server.output()}`))), deadlineMs);
    const settle = (outcome: () => void) => {
      clearTimeout(timer);
      stdout?.off('data', scan);
      outcome();
    };
    stdout?.on('data', scan);
    void server.exited.then((exit) =>
      settle(() => reject(new Error(`the process exited (${JSON.stringify(exit)}) before announcing its URL:\n${server.output()}`))),
    );
    scan();
  });
  await waitForHealthy(url, server, deadlineMs);
  return url;
}

/**
 * Resolves once `baseUrl`/healthz answers 200; rejects if the process exits first. The process
 * gives no other sign that it listens (LOG_LEVEL=silent), so this polls, briefly apart.
 */
export async function waitForHealthy(baseUrl: string, server: ServerProcess, deadlineMs = 30_000): Promise<void> {
  let exited: Exit | null = null;
  void server.exited.then((exit) => (exited = exit));
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (exited) throw new Error(`the server exited (${JSON.stringify(exited)}) before it was healthy:\n${server.output()}`);
    try {
      const response = await fetch(`${baseUrl}/healthz`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server was not healthy within ${deadlineMs} ms:\n${server.output()}`);
    await delay(25);
  }
}
