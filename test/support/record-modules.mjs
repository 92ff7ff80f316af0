/**
 * Module hooks that write the URL of every module a process loads (through `import`) to the file
 * named at registration, one per line: hooks run on a thread of their own, so a file is how
 * they report. Registered by `node --import ./test/support/record-modules-register.mjs`.
 */
import { appendFileSync } from 'node:fs';

let file;

export function initialize(path) {
  file = path;
}

export async function load(url, context, nextLoad) {
  appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
}
