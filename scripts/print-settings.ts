/**
 * Prints what is restated from `settingsSchema` in src/config.ts, each setting's one source (its
 * name, default and one-line meaning, `.describe`): docs/settings.md's settings table, and
 * src/settings-options.ts, the settings in camelCase as an application gives them in code, each
 * documented with its meaning and default. Run it after adding a setting.
 *   tsx scripts/print-settings.ts           rewrite both
 *   tsx scripts/print-settings.ts --check   exit 1 (saying what to run) when either is stale
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { optionName } from '../src/settings-names.ts';
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
    const units: [number, string][] = [
      [86_400_000, 'd'],
      [3_600_000, 'h'],
      [60_000, 'min'],
    ];
    const [size, unit] = units.find(([size]) => value % size === 0) ?? [1000, 's'];
    return ` (${value / size} ${unit})`;
  }
  if (name.endsWith('_BYTES') && value >= 1024) {
    return value % (1024 * 1024) === 0 ? ` (${value / 1024 / 1024} MiB)` : ` (${value / 1024} KiB)`;
  }
  return '';
}

interface FieldDefinition {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  entries?: Record<string, string>;
}

/** The type a setting is given as, under its defaults, optionality and parsing steps. */
function baseOf(field: z.ZodType): FieldDefinition {
  let def = field.def as FieldDefinition;
  while (def.innerType || def.in) def = (def.innerType ?? def.in)!.def as FieldDefinition;
  return def;
}

function choicesOf(field: z.ZodType): string[] {
  const inner = baseOf(field);
  if (inner.type !== 'enum' || !inner.entries) return [];
  const values = Object.values(inner.entries).map((value) => `\`${value}\``);
  // Said already when the meaning names every value.
  return values.every((value) => field.description?.includes(value)) ? [] : [`One of ${values.join(', ')}.`];
}

export const OPTIONS_SOURCE = 'src/settings-options.ts';

/** The TypeScript type of a setting given in code. */
function typeOf(field: z.ZodType): string {
  const base = baseOf(field);
  if (base.type === 'enum' && base.entries)
    return Object.values(base.entries)
      .map((value) => `'${value}'`)
      .join(' | ');
  return base.type === 'number' ? 'number' : 'string';
}

/** src/settings-options.ts: each setting in camelCase, with its meaning, default and variable. */
export function settingsOptionsSource(): string {
  const fields = Object.entries(settingsSchema.shape).flatMap(([name, setting]) => {
    const field = setting as z.ZodType;
    const def = field.def as { type: string; defaultValue?: unknown };
    const meaning = (field.description ?? '').replaceAll('*/', '* /');
    return [
      '  /**',
      `   * ${meaning}`,
      ...(def.type === 'default' ? [`   * @defaultValue \`${String(def.defaultValue)}\``] : []),
      `   * Environment variable: \`${name}\`.`,
      '   */',
      `  ${optionName(name)}?: ${typeOf(field)};`,
    ];
  });
  return [
    '// Printed by `npm run settings` from settingsSchema in src/config.ts: edit there.',
    '',
    '/**',
    ' * The settings as an application gives them in code (`startServer({ settings })`), each over the',
    ' * environment variable of its name; unset, the variable or the default applies.',
    ' */',
    'export interface SettingsOptions {',
    ...fields,
    '}',
    '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const optionsTarget = fileURLToPath(new URL(`../${OPTIONS_SOURCE}`, import.meta.url));
  const optionsNow = await readFile(optionsTarget, 'utf8').catch(() => '');
  if (process.argv.includes('--check')) {
    if (optionsNow !== settingsOptionsSource()) {
      console.error(`${OPTIONS_SOURCE} is stale (it differs from src/config.ts): run \`npm run settings\` and commit it.`);
      process.exit(1);
    }
  } else {
    await writeFile(optionsTarget, settingsOptionsSource());
  }
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
