/**
 * Writes the schema's SDL to schema.graphql, the file clients generate code from.
 *   tsx scripts/print-schema.ts           write it
 *   tsx scripts/print-schema.ts --check   exit 1 (saying what to run) when it is out of date
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { printedSchema } from '../src/schema/index.ts';

const target = fileURLToPath(new URL('../schema.graphql', import.meta.url));
const expected = printedSchema();

if (process.argv.includes('--check')) {
  const actual = await readFile(target, 'utf8').catch(() => null);
  if (actual !== expected) {
    console.error(
      actual === null
        ? 'schema.graphql is missing: run `npm run schema` and commit it.'
        : 'schema.graphql is stale (it differs from the schema in src/schema): run `npm run schema`, then `npm run codegen`, and commit both.',
    );
    process.exit(1);
  }
  console.log('schema.graphql is up to date.');
} else {
  await writeFile(target, expected);
  console.log(`Wrote ${target}`);
}
