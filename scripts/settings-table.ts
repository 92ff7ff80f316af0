/**
 * Prints docs/settings.md's settings table from `settingsSchema` in src/config.ts, each setting's one
 * source: its name, default and one-line meaning (`.describe`). Run it after adding a setting.
 *   tsx scripts/settings-table.ts           rewrite the table between the page's markers
 *   tsx scripts/settings-table.ts --check   exit 1 (saying what to run) when the table is stale
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { settingsSchema } from '../src/config.ts';

/** Where the table is, from the project's root. */
export const SETTINGS_PAGE = 'docs/settings.md';
export const START = '<!-- settings-table: printed by `npm run settings` from src/config.ts; edit there -->';
export const END = '<!-- /settings-table -->';

export function settingsTable(): string {
  const rows = Object.entries(settingsSchema.shape).map(([name, setting]) => {
    const field = setting as z.ZodType;
    const meaning = [field.description ?? '', ...choicesOf(field)].join(' ').trim();
    return `| \`${name}\` | ${defaultOf(name, field)} | ${meaning.replaceAll('|', '\\|')} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The page with its table replaced by the current one; throws when the markers are missing. */
export function withCurrentTable(page: string): string {
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start === -1 || end < start) throw new Error(`${SETTINGS_PAGE} lacks the settings table's markers:\n${START}\n${END}`);
  return `${page.slice(0, start + START.length)}\n${settingsTable()}\n${page.slice(end)}`;
}

function defaultOf(name: string, field: z.ZodType): string {
  const def = field.def as { type: string; defaultValue?: unknown };
  if (def.type !== 'default') return 'unset';
  const value = def.defaultValue;
  return `\`${String(value)}\`${typeof value === 'number' ? readable(name, value) : ''}`;
}

/** Large durations and sizes also in units a reader takes in at a glance. */
function readable(name: string, value: number): string {
  if (name.endsWith('_MS') && value >= 60_000) {
    const units: [number, string][] = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'min']];
    const [size, unit] = units.find(([size]) => value % size === 0) ?? [1000, 's'];
    return ` (${value / size} ${unit})`;
  }
  if (name.endsWith('_BYTES') && value >= 1024) {
    return value % (1024 * 1024) === 0 ? ` (${value / 1024 / 1024} MiB)` : ` (${value / 1024} KiB)`;
  }
  return '';
}

function choicesOf(field: z.ZodType): string[] {
  let inner = field.def as { type: string; innerType?: z.ZodType; entries?: Record<string, string> };
  while (inner.innerType) inner = inner.innerType.def as typeof inner;
  if (inner.type !== 'enum' || !inner.entries) return [];
  const values = Object.values(inner.entries).map((value) => `\`${value}\``);
  // Said already when the meaning names every value.
  return values.every((value) => field.description?.includes(value)) ? [] : [`One of ${values.join(', ')}.`];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const target = fileURLToPath(new URL(`../${SETTINGS_PAGE}`, import.meta.url));
  const page = await readFile(target, 'utf8');
  const current = withCurrentTable(page);
  if (process.argv.includes('--check')) {
    if (current !== page) {
      console.error(`${SETTINGS_PAGE}'s settings table is stale (it differs from src/config.ts): run \`npm run settings\` and commit ${SETTINGS_PAGE}.`);
      process.exit(1);
    }
    console.log(`${SETTINGS_PAGE}'s settings table is up to date.`);
  } else {
    await writeFile(target, current);
    console.log(`Wrote the settings table in ${target}`);
  }
}
