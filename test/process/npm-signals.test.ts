/**
 * An orchestrator signals the process it started. Started as `npm start` or `npm run worker`,
 * that is npm: SIGTERM or SIGINT to npm's pid must reach the gateway or worker, which stops
 * gracefully (its own shutdown log) and exits 0, and npm with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnNpmScript, waitForAnnouncedUrl, type ServerProcess } from '../support/process.ts';
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
    // Port 0, and the URL from the process' own log: a port picked beforehand may be handed to
    // another test's server meanwhile, whose health would then be taken for this one's.
    const process = spawnNpmScript(script, { LOG_LEVEL: 'info', HOST: '127.0.0.1', [portVariable]: '0', ...env });
    started.push(process);
    await waitForAnnouncedUrl(process);
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
