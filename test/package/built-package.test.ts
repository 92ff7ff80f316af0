/**
 * The library as an application gets it: `npm run build`'s dist/, reached through package.json
 * `exports` from an application of its own (a plain `.mjs` run by node, no TypeScript loader),
 * its declarations from a TypeScript application that type-checks without our sources, and the
 * tarball `npm pack` makes, installed from the registry's packages into an empty folder.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../support/clients.ts';
import { PROJECT_ROOT, spawnProcess, type ServerProcess } from '../support/process.ts';
import { sendAndFollow } from '../support/runs.ts';
import { TEST_SECRET } from '../support/server.ts';

const run = promisify(execFile);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** An application with an agent of its own, as a README reader would write it. */
const APPLICATION = `
import { startServer, AgentError } from 'agent-gateway';

const echo = {
  id: 'app.echo',
  kind: 'LIAISON',
  pillar: null,
  name: 'Echo',
  description: 'Says back what it was told.',
  async run(context) {
    if (context.input.text === 'silence') throw new AgentError('NOTHING_TO_ECHO', 'Silence cannot be echoed.', false);
    await context.say('You said: ' + context.input.text);
  },
};

const server = await startServer({ agents: [echo] });
console.log('resolved ' + import.meta.resolve('agent-gateway'));
console.log('listening on ' + server.url);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
`;

/** Runs APPLICATION (app.mjs in `folder`) as a user would: node, on a free port, with the test secret. */
function startApplication(folder: string): ServerProcess {
  return spawnProcess(process.execPath, ['app.mjs'], { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', AUTH_JWT_SECRET: TEST_SECRET }, false, folder);
}

/** The URL the application prints once it listens. */
function announcedUrl(app: ServerProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    app.child.stdout?.on('data', () => {
      const found = /listening on (\S+)/.exec(app.output());
      if (found) resolve(found[1]!);
    });
    void app.exited.then((exit) => reject(new Error(`the application exited (${JSON.stringify(exit)}):\n${app.output()}`)));
  });
}

/** Every name src/index.ts exports (values and types), read from its syntax alone. */
function publicNames(): string[] {
  const file = ts.createSourceFile('index.ts', readFileSync(join(PROJECT_ROOT, 'src/index.ts'), 'utf8'), ts.ScriptTarget.ES2022);
  const names: string[] = [];
  for (const statement of file.statements) {
    if (ts.isExportDeclaration(statement) && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      names.push(...statement.exportClause.elements.map((element) => element.name.text));
    } else if (
      (ts.isFunctionDeclaration(statement) || ts.isInterfaceDeclaration(statement)) &&
      statement.name &&
      statement.modifiers?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)
    ) {
      names.push(statement.name.text);
    }
  }
  return names;
}

describe('the built package', () => {
  let application: string;

  beforeAll(async () => {
    // `npm run build`'s command: nothing to do when dist/ is current, so the test always sees the sources as they are.
    await run(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: PROJECT_ROOT });
    application = mkdtempSync(join(tmpdir(), 'agw-application-'));
    writeFileSync(join(application, 'package.json'), JSON.stringify({ name: 'application', type: 'module', private: true }));
    // What npm makes of a `file:` dependency on the gateway: a link to its directory.
    mkdirSync(join(application, 'node_modules'));
    symlinkSync(PROJECT_ROOT, join(application, 'node_modules', 'agent-gateway'), 'dir');
  });
  afterAll(() => rmSync(application, { recursive: true, force: true }));

  it('runs an application of plain JavaScript on dist/, with its own agent, and stops on SIGTERM', async () => {
    writeFileSync(join(application, 'app.mjs'), APPLICATION);
    const app = startApplication(application);
    try {
      const url = await announcedUrl(app);
      expect(app.output()).toContain(`resolved ${pathToFileURL(join(PROJECT_ROOT, 'dist/index.js')).href}\n`);

      const token = await tokenFor('application-user');
      const { events } = await sendAndFollow(url, token, { text: 'hello', target: { kind: 'LIAISON', agentId: 'app.echo' } });
      expect(events.at(-1)).toMatchObject({ __typename: 'AgentCompleted', message: { text: 'You said: hello' } });
      const failed = await sendAndFollow(url, token, { text: 'silence', target: { kind: 'LIAISON', agentId: 'app.echo' } });
      expect(failed.events.at(-1)).toMatchObject({ __typename: 'AgentFailed', error: { code: 'NOTHING_TO_ECHO', retryable: false } });

      app.child.kill('SIGTERM');
      expect(await app.exited).toEqual({ code: 0, signal: null });
    } finally {
      await app.kill();
    }
  });

  it('declares every public name for a TypeScript application that type-checks against dist/ only', async () => {
    const names = publicNames();
    expect(names).toEqual(expect.arrayContaining(['startServer', 'startWorker', 'AgentError', 'AgentDefinition', 'llmAgent', 'agUiAgent']));
    writeFileSync(
      join(application, 'app.ts'),
      [
        `import type { ${names.join(', ')} } from 'agent-gateway';`,
        // Real types, not a silent any: a wrong use must fail.
        `const echo: AgentDefinition = { id: 'app.echo', kind: 'LIAISON', pillar: null, name: 'Echo', description: 'Echo.',`,
        `  async run(context) { await context.say(context.input.text); } };`,
        `export const start = (server: typeof startServer) => server({ agents: [echo], settings: { port: 0 } });`,
        `// @ts-expect-error AGENT_ID_PATTERN is a RegExp`,
        `export const wrong: number = null as unknown as typeof AGENT_ID_PATTERN;`,
      ].join('\n'),
    );
    const config = {
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['app.ts'],
    };
    writeFileSync(join(application, 'tsconfig.json'), JSON.stringify(config));
    const checked = await run(process.execPath, [tsc, '-p', '.'], { cwd: application }).catch((error: { stdout: string }) => error);
    expect(checked.stdout).toBe('');
  });

  it('packs into a tarball that installs in an empty folder and serves, its chat page built in', { timeout: 240_000 }, async () => {
    // What `npm pack`'s prepack does (dist/ is built above; the page only when stale), then the pack itself.
    await run(process.execPath, ['--import', 'tsx', 'scripts/ensure-web-build.ts'], { cwd: PROJECT_ROOT });
    const folder = mkdtempSync(join(tmpdir(), 'agw-packed-'));
    try {
      const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', folder], { cwd: PROJECT_ROOT, maxBuffer: 16 << 20 });
      const tarball = join(folder, packed.stdout.trim().split('\n').at(-1)!);
      const consumer = join(folder, 'app');
      mkdirSync(consumer);
      writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, 'graphql@16'], { cwd: consumer, maxBuffer: 16 << 20 });
      // The page ships built: the tools that build it are not the application's to install.
      expect(existsSync(join(consumer, 'node_modules/vite'))).toBe(false);
      expect(existsSync(join(consumer, 'node_modules/agent-gateway/web/dist/index.html'))).toBe(true);
      writeFileSync(join(consumer, 'app.mjs'), APPLICATION);
      const app = startApplication(consumer);
      try {
        const url = await announcedUrl(app);
        expect((await fetch(`${url}/`)).headers.get('content-type')).toContain('text/html');
        const { events } = await sendAndFollow(url, await tokenFor('packed-user'), { text: 'hello', target: { kind: 'LIAISON', agentId: 'app.echo' } });
        expect(events.at(-1)).toMatchObject({ __typename: 'AgentCompleted', message: { text: 'You said: hello' } });
      } finally {
        await app.kill();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
