/** The settings table of docs/settings.md, printed from settingsSchema: one row per setting, in step with it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { settingsSchema } from '../../src/config.ts';
import { SETTINGS_PAGE, settingsTable, withCurrentTable } from '../../scripts/print-settings.ts';
import { PROJECT_ROOT } from '../support/process.ts';

it('has one row per setting with its default and meaning', () => {
  const rows = settingsTable().split('\n').slice(2);
  expect(rows.map((row) => /^\| `(\w+)` \|/.exec(row)?.[1])).toEqual(Object.keys(settingsSchema.shape));
  expect(rows).toContain('| `PORT` | `4000` | Port of the gateway (GraphQL, WebSocket, SSE, health, metrics, web page); 0 picks a free one. |');
  expect(rows.find((row) => row.startsWith('| `REDIS_URL` |'))).toMatch(/^\| `REDIS_URL` \| unset \| \S/);
  expect(rows.find((row) => row.startsWith('| `EVENT_RETENTION_MS` |'))).toContain('`604800000` (7 d)');
  expect(rows.find((row) => row.startsWith('| `LOG_LEVEL` |'))).toContain('One of `fatal`, `error`');
});

it('is current in its page, which has it once', () => {
  const page = readFileSync(join(PROJECT_ROOT, SETTINGS_PAGE), 'utf8');
  expect(withCurrentTable(page)).toBe(page);
  expect(page.split('| Variable | Default | Meaning |')).toHaveLength(2);
});
