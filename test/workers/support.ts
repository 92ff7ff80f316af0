/**
 * Worker processes for the tests (`node --import tsx src/start-worker.ts`, awaited until ready), and
 * readings of their /metrics: the only window on what a worker executes.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { startInstance, type Instance } from '../multi/support.ts';

/** A worker: `url` is where its /healthz, /readyz and /metrics are. */
export type WorkerInstance = Instance;

export function startWorker(name: string, env: Record<string, string>): Promise<WorkerInstance> {
  return startInstance(name, env, { entry: 'src/start-worker.ts', portVariable: 'WORKER_PORT' });
}

/** The value of one sample of a worker's (or gateway's) /metrics; 0 when it has none yet. */
export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? '').split(',');
    if (wanted.every((pair) => present.includes(pair))) return Number(match[3]);
  }
  return 0;
}

/** Polls (bounded) until exactly one of `workers` executes a run, and returns it. */
export async function executingWorker(workers: WorkerInstance[], deadlineMs = 10_000): Promise<WorkerInstance> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const counts = await Promise.all(workers.map((worker) => metric(worker.url, 'agent_gateway_worker_executing_runs')));
    const busy = workers.filter((_, index) => counts[index]! > 0);
    if (busy.length === 1) return busy[0]!;
    if (Date.now() > deadline) throw new Error(`no single worker executes a run (executing: ${counts.join(', ')})`);
    await delay(20);
  }
}
