/**
 * Builds the chat page into web/dist/ unless a build of the current sources is already there:
 * `npm start` runs it first (prestart), and the browser tests call ensureWebBuild().
 * A build records a hash of its sources (web/dist/.source-hash), so an edited page is rebuilt.
 *   tsx scripts/ensure-web-build.ts           build when missing or stale
 *   tsx scripts/ensure-web-build.ts --force   build anyway
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = join(root, 'web');
const dist = join(web, 'dist');
const hashFile = join(dist, '.source-hash');

/** Everything the page is built from: its sources, its config and the installed dependencies. */
async function sourceHash(): Promise<string> {
  const files = [join(web, 'index.html'), join(web, 'vite.config.ts'), join(root, 'package-lock.json')];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files.push(path);
    }
  };
  await walk(join(web, 'src'));
  const hash = createHash('sha256');
  for (const file of files.sort()) {
    if (!existsSync(file)) continue;
    hash
      .update(relative(root, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0');
  }
  return hash.digest('hex');
}

export async function webBuildIsCurrent(): Promise<boolean> {
  if (!existsSync(join(dist, 'index.html'))) return false;
  const recorded = await readFile(hashFile, 'utf8').catch(() => null);
  return recorded === (await sourceHash());
}

/** Runs `vite build` on web/ in a child process (so it never shares a test worker's module graph). */
export async function buildWeb(): Promise<void> {
  const hash = await sourceHash();
  const viteCli = join(createRequire(import.meta.url).resolve('vite/package.json'), '..', 'bin', 'vite.js');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [viteCli, 'build', web, '--logLevel', 'warn'], {
      cwd: root,
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: 'inherit',
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build exited with ${code}`))));
  });
  await writeFile(hashFile, hash);
}

export async function ensureWebBuild({ force = false } = {}): Promise<'built' | 'current'> {
  if (!force && (await webBuildIsCurrent())) return 'current';
  await buildWeb();
  return 'built';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  const outcome = await ensureWebBuild({ force: process.argv.includes('--force') });
  console.log(
    outcome === 'built'
      ? `Built the chat page into web/dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s.`
      : 'The chat page in web/dist/ is up to date.',
  );
}
