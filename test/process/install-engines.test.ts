/**
 * `npm install` on the Node version that `engines` names must not warn that a dependency wants a
 * newer Node (EBADENGINE): a newcomer reads such warnings as "this will not work here". npm
 * checks engines while planning, so a dry run of the locked tree, offline, shows them.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'agw-engines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('installing the locked dependencies warns about no engine', async () => {
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(PROJECT_ROOT, file), join(dir, file));
  const { stdout, stderr } = await promisify(execFile)('npm', ['install', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    env: { ...process.env, npm_config_loglevel: 'warn' },
  });
  expect(`${stdout}${stderr}`).not.toContain('EBADENGINE');
});
