/**
 * A newcomer's first steps, as README.md's quick start writes them, on a copy of the repository
 * as a clone would have it (its tracked files only: nothing built, generated or installed), then
 * the README's client snippet, examples/client against the gateway it started, and the curl
 * example of docs/clients.md.
 *
 * One liberty for speed: the copy's root `npm install` is a link to this checkout's node_modules,
 * which the same package-lock.json installed. examples/client installs for real (from npm's
 * cache when it can).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, spawnNpmScript, waitForAnnouncedUrl, type ServerProcess } from '../support/process.ts';

const run = promisify(execFile);
const README = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
const CLIENTS_PAGE = readFileSync(join(PROJECT_ROOT, 'docs/clients.md'), 'utf8');

/** The fenced block of `language` that follows `marker` in `page`. */
function blockAfter(page: string, marker: string, language: string): string {
  const start = page.indexOf(marker);
  if (start === -1) throw new Error(`no ${marker} in the page`);
  return page.slice(start).match(new RegExp(`\`\`\`${language}\n([\\s\\S]*?)\`\`\``))?.[1] ?? '';
}

/** The commands of a fenced block that follows `marker` in `page`, comments left out. */
function commandsAfter(marker: string, page = README): string[] {
  const block = blockAfter(page, marker, 'sh');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** A copy of the repository's tracked (and new, not ignored) files, as a fresh clone has them. */
async function cloneLike(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'agw-clone-'));
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: PROJECT_ROOT, maxBuffer: 16 << 20 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    mkdirSync(join(dir, dirname(file)), { recursive: true });
    try {
      cpSync(join(PROJECT_ROOT, file), join(dir, file));
    } catch (error) {
      // A file deleted in the working tree but still in the index is not in a clone either.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return dir;
}

const baseEnv = () => ({ PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' });

describe("the README's quick start on a fresh clone", () => {
  let clone: string;
  let gateway: ServerProcess | undefined;
  let url: string;
  const example = () => join(clone, 'examples/client');
  const runExample = (args: string[]) => run(args[0]!, args.slice(1), { cwd: example(), env: { ...baseEnv(), GATEWAY_URL: url }, maxBuffer: 16 << 20 });

  beforeAll(async () => {
    clone = await cloneLike();
  });
  afterAll(async () => {
    await gateway?.kill();
    if (clone) rmSync(clone, { recursive: true, force: true });
  });

  it('says what this test does', () => {
    expect(commandsAfter('<!-- quick-start')).toEqual([
      'git clone <repository-url> agent-gateway && cd agent-gateway',
      'npm install',
      'npm start',
      'cd examples/client && npm install && npm start',
    ]);
  });

  it('npm install, npm start: the gateway serves the chat page and GraphiQL', { timeout: 180_000 }, async () => {
    symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
    // The one setting given: port 0 rather than 4000, which another program may hold here; the
    // gateway says in its log which port it got.
    gateway = spawnNpmScript('start', { PORT: '0' }, clone);
    url = await waitForAnnouncedUrl(gateway, 150_000);
    expect((await fetch(`${url}/`)).headers.get('content-type')).toContain('text/html');
    expect(await (await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } })).text()).toContain('GraphiQL');
  });

  it('examples/client: npm install && npm start sends a message and follows the run to its end', { timeout: 180_000 }, async () => {
    await runExample(['npm', 'install', '--prefer-offline', '--no-audit', '--no-fund']);
    const { stdout } = await runExample(['npm', 'start']);
    expect(stdout).toContain('[VISUALIZATION] Chart of sales.csv');
    expect(stdout).toContain('sales.csv has 3 rows and 2 columns.');
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('AgentCompleted');
  });

  it('examples/client --cancel cancels the run and ends with AgentCancelled', async () => {
    const { stdout } = await runExample(['node', 'dist/main.js', '--cancel']);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('AgentCancelled: Cancelled by the user.');
  });

  it("the README's client snippet prints the run's reply as it streams, and ends with the run", async () => {
    const snippet = join(clone, 'readme-client.mjs');
    writeFileSync(snippet, blockAfter(README, '<!-- client-snippet', 'js').replace("'http://127.0.0.1:4000'", JSON.stringify(url)));
    const { stdout } = await run('node', [snippet], { cwd: clone, env: baseEnv() });
    const token = ((await (await fetch(`${url}/auth/dev-token`, { method: 'POST', body: JSON.stringify({ userId: 'me' }) })).json()) as { token: string })
      .token;
    const answer = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ conversations(first: 1) { messages(last: 1) { role text } } }' }),
    });
    const [conversation] = ((await answer.json()) as { data: { conversations: { messages: { role: string; text: string }[] }[] } }).data.conversations;
    expect(conversation!.messages[0]!.role).toBe('AGENT');
    expect(stdout).toBe(conversation!.messages[0]!.text);
    expect(stdout.length).toBeGreaterThan(0);
  });

  it("docs/clients.md's curl example ends by itself after the run's terminal event", async () => {
    const script = commandsAfter('From a shell, send a message', CLIENTS_PAGE).join('\n').replaceAll('localhost:4000', url.replace('http://', ''));
    const { stdout } = await run('bash', ['-c', `set -euo pipefail\n${script}`], { env: baseEnv(), maxBuffer: 16 << 20 });
    expect(stdout).toContain('"__typename":"AgentCompleted"');
    expect(stdout.trimEnd().split('\n').slice(-2)).toEqual(['event: complete', 'data:']);
  });

  it("docs/clients.md's snippets marked as taken from examples/client are in it, as shown", () => {
    const snippets = [...CLIENTS_PAGE.matchAll(/<!-- from (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)];
    expect(snippets.length).toBeGreaterThan(4);
    for (const [, path, snippet] of snippets) {
      expect(readFileSync(join(clone, path!), 'utf8'), path).toContain(snippet);
    }
  });

  it('SIGTERM to npm start stops the gateway, which exits 0', async () => {
    gateway!.child.kill('SIGTERM');
    expect(await gateway!.exited).toEqual({ code: 0, signal: null });
  });
});
