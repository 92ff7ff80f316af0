/**
 * PGlite data folders for tests. Initializing a new folder (PGlite's initdb, in WebAssembly) takes
 * seconds, so a test file initializes one template, once, and each fresh folder is a copy of it
 * (still without the store's schema, which the store migrates as on a first start).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

let template: Promise<string> | undefined;
const made: string[] = [];

function initialized(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agw-pglite-template-'));
    made.push(dir);
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(dir);
    await db.close();
    return dir;
  })();
  return template;
}

/** A new data folder, initialized and empty. */
export async function freshDataFolder(): Promise<string> {
  const source = await initialized();
  const dir = mkdtempSync(join(tmpdir(), 'agw-pglite-'));
  made.push(dir);
  cpSync(source, dir, { recursive: true });
  return dir;
}

/** The DATABASE_URL of a data folder. */
export const dataFolderUrl = (dir: string) => pathToFileURL(dir).href;

/** Removes every folder made here (the template too); for an afterAll. */
export function removeDataFolders(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  template = undefined;
}
