/**
 * What a gateway loads to start: a dependency that only some deployments use is loaded when
 * first used, not at every start (each module costs start time, on every instance and restart).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { spawnProcess, waitForAnnouncedUrl, type ServerProcess } from '../support/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'agw-modules-'));
let gateway: ServerProcess | undefined;

afterAll(async () => {
  await gateway?.kill();
  rmSync(dir, { recursive: true, force: true });
});

it(
  'a gateway without remote agents starts without the AG-UI client (some 350 files with rxjs), nor the Redis modules it never uses',
  { timeout: 60_000 },
  async () => {
    const record = join(dir, 'modules.txt');
    gateway = spawnProcess(process.execPath, ['--import', 'tsx', '--import', './test/support/record-modules-register.mjs', 'src/start-gateway.ts'], {
      PORT: '0',
      RECORD_MODULES_TO: record,
    });
    await waitForAnnouncedUrl(gateway);
    const loaded = readFileSync(record, 'utf8').split('\n');
    // The record holds what was loaded: the server's own modules are in it.
    expect(loaded.some((url) => url.includes('/node_modules/graphql-yoga/'))).toBe(true);
    expect(loaded.filter((url) => url.includes('/node_modules/@ag-ui/client/'))).toEqual([]);
    // node-redis' client alone: the `redis` package adds its modules (search, JSON, Bloom filters, time series).
    expect(loaded.some((url) => url.includes('/node_modules/@redis/client/'))).toBe(true);
    expect(loaded.filter((url) => url.includes('/node_modules/redis/'))).toEqual([]);
  },
);
