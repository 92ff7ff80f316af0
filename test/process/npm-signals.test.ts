/**
 * An orchestrator signals the process it started. Started as `npm start` or `npm run worker`,
 * that is npm: SIGTERM or SIGINT to npm's pid must reach the gateway or worker, which stops
 * gracefully (its own shutdown log) and exits 0, and npm with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnNpmScript, waitForHealthy, type ServerProcess } from '../support/process.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';

describe('signals to the npm process', () => {
  let redis: TestRedis;
  const started: ServerProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(started.map((process) => process.kill()));
    await redis?.stop();
  });

  async function start(script: string, env: Record<string, string>, portVariable: string): Promise<ServerProcess> {
    const port = await freePort();
    const process = spawnNpmScript(script, { LOG_LEVEL: 'info', HOST: '127.0.0.1', [portVariable]: String(port), ...env });
    started.push(process);
    await waitForHealthy(`http://127.0.0.1:${port}`, process);
    return process;
  }

  it.each(['SIGTERM', 'SIGINT'] as const)('npm start stops the gateway gracefully on %s and exits 0', async (signal) => {
    const gateway = await start('start', {}, 'PORT');
    expect(gateway.child.kill(signal)).toBe(true);
    expect(await gateway.exited).toEqual({ code: 0, signal: null });
    expect(gateway.output()).toContain('"msg":"shutting down"');
    expect(gateway.output()).toContain('"msg":"agent gateway stopped"');
  });

  it('npm run worker stops the worker gracefully on SIGTERM and exits 0', async () => {
    const worker = await start('worker', { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'npm-signals:' }, 'WORKER_PORT');
    expect(worker.child.kill('SIGTERM')).toBe(true);
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('"msg":"agent gateway worker stopped"');
  });
});
