/** Without Redis there is nothing to hand runs to workers through: both sides refuse to start, saying why. */
import { describe, expect, it } from 'vitest';
import { spawnGateway } from '../support/process.ts';

describe('workers without Redis', () => {
  it('a gateway with RUN_EXECUTION=workers refuses to start without REDIS_URL', async () => {
    const gateway = spawnGateway({ PORT: '0', RUN_EXECUTION: 'workers' });
    const exit = await gateway.exited;
    expect(exit).toEqual({ code: 1, signal: null });
    expect(gateway.output()).toContain('RUN_EXECUTION=workers requires REDIS_URL');
    expect(gateway.output()).not.toMatch(/listening/);
  });

  it('a worker refuses to start without REDIS_URL', async () => {
    const worker = spawnGateway({ WORKER_PORT: '0' }, 'src/start-worker.ts');
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 1, signal: null });
    expect(worker.output()).toContain('A worker needs REDIS_URL');
  });

  it('a worker refuses an invalid setting, naming it', async () => {
    const worker = spawnGateway({ REDIS_URL: 'redis://127.0.0.1:1', WORKER_CONCURRENCY: '0' }, 'src/start-worker.ts');
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    expect(worker.output()).toContain('WORKER_CONCURRENCY');
  });
});
