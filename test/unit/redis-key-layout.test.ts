/**
 * The Redis key layout has one definition (src/store/redis/keys.ts). Lua scripts that find a
 * record by an id they read inside the script must build its key themselves: runs, messages and
 * input requests from the prefix `RedisKeys.recordPrefix` gives them, conversations from the
 * key prefix and a literal. Every name a script builds from a literal
 * (`prefix .. 'c:{' .. id .. '}'`) is checked here against what RedisKeys makes, so that the two
 * cannot drift apart.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { RedisKeys } from '../../src/store/redis/keys.ts';
import { PROJECT_ROOT } from '../support/process.ts';

const FOLDER = join(PROJECT_ROOT, 'src/store/redis');
/** Every name a script builds from a prefix: `… .. 'literal' .. id [.. 'closing']`. */
function luaBuiltNames(): { file: string; opening: string; closing: string }[] {
  return readdirSync(FOLDER)
    .filter((name) => name.endsWith('.ts'))
    .flatMap((file) =>
      [...readFileSync(join(FOLDER, file), 'utf8').matchAll(/\.\. '([a-z-]+:\{?)' \.\. [\w.()]+(?: \.\. '(\})')?/g)].map((match) => ({
        file,
        opening: match[1]!,
        closing: match[2] ?? '',
      })),
    );
}

it('builds in Lua only the names RedisKeys makes', () => {
  const found = luaBuiltNames();
  // Only the owner's listing reads conversations by id; records come with their prefix.
  expect(new Set(found.map(({ opening }) => opening))).toEqual(new Set(['c:{']));
  for (const cluster of [false, true]) {
    const keys = new RedisKeys('P:', cluster);
    const made = new Set([keys.conversation('ID')]);
    for (const { file, opening, closing } of found) expect(made, `${file}: ${opening}…${closing}`).toContain(`P:${opening}ID${closing}`);
  }
});
