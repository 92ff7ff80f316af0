/** The run's state table is the one definition the code, the Lua scripts and the tests use. */
import { describe, expect, it } from 'vitest';
import { ACTIVE_STATUSES, RUN_ACTORS, RUN_STATUSES, RUN_TRANSITIONS, TERMINAL_STATUSES, allowedFrom } from '../../src/domain/run-states.ts';
import { INPUT_STATUSES, INPUT_TRANSITIONS } from '../../src/domain/input-states.ts';
import { moveRun } from '../../src/runtime/run-transitions.ts';
import { MemoryRunStore } from '../../src/store/memory/runs.ts';
import { RUN_LUA, luaStatusSet } from '../../src/store/redis/runs.ts';
import { readFileSync } from 'node:fs';
import { helloRun } from '../contract/worlds.ts';

describe('the run state table', () => {
  it('names only known statuses and actors, each move once', () => {
    const moves = RUN_TRANSITIONS.map((t) => `${t.from}->${t.to}`);
    expect(new Set(moves).size).toBe(moves.length);
    for (const t of RUN_TRANSITIONS) {
      expect(RUN_STATUSES).toContain(t.from);
      expect(RUN_STATUSES).toContain(t.to);
      for (const actor of t.by) expect(RUN_ACTORS).toContain(actor);
    }
  });

  it('reaches every status from QUEUED, and leaves a terminal one only for the sweep', () => {
    const reached = new Set(['QUEUED']);
    for (let grew = true; grew;) {
      grew = false;
      for (const t of RUN_TRANSITIONS) if (reached.has(t.from) && !reached.has(t.to)) grew = reached.add(t.to).size > 0;
    }
    expect([...reached].sort()).toEqual([...RUN_STATUSES].sort());
    for (const t of RUN_TRANSITIONS.filter((t) => TERMINAL_STATUSES.has(t.from))) expect(t.by).toEqual(['sweep']);
  });

  it('lets a waiting run be resumed only by an answer, and ended only by cancel or expiry', () => {
    expect(RUN_TRANSITIONS.filter((t) => t.from === 'WAITING').map((t) => [t.to, t.by])).toEqual([
      ['QUEUED', ['answer']],
      ['CANCELLED', ['cancel']],
      ['FAILED', ['expiry']],
    ]);
    expect(allowedFrom('sweep', 'FAILED')).not.toContain('WAITING');
    expect(allowedFrom('timeout', 'FAILED')).not.toContain('WAITING');
    expect(allowedFrom('cancel', 'CANCELLED').sort()).toEqual(['QUEUED', 'RUNNING', 'WAITING']);
  });

  it("gives the Redis scripts the table's active statuses", () => {
    expect(ACTIVE_STATUSES).toEqual(['QUEUED', 'RUNNING', 'WAITING']);
    expect(RUN_LUA).toContain(`local ACTIVE_RUN_STATUSES = ${luaStatusSet(ACTIVE_STATUSES)}`);
    expect(luaStatusSet(['QUEUED'])).toBe(`{['"QUEUED"'] = true}`);
    // No status is spelled out in the script anywhere but in the generated set.
    expect(RUN_LUA.replace(luaStatusSet(ACTIVE_STATUSES), '')).not.toMatch(/QUEUED|RUNNING|WAITING/);
  });

  it('is what docs/human-in-the-loop.md shows', () => {
    const doc = readFileSync(new URL('../../docs/human-in-the-loop.md', import.meta.url), 'utf8');
    const rows = doc.split('\n').filter((line) => /^\| [A-Z]+ \| [A-Z]+ \|/.test(line));
    expect(rows).toEqual(RUN_TRANSITIONS.map((t) => `| ${t.from} | ${t.to} | ${t.by.join(', ')} | ${t.why} |`));
  });

  it('moves a run only as the table allows', async () => {
    const runs = new MemoryRunStore();
    const run = helloRun('c-1');
    await runs.create(run);
    expect(() => moveRun(runs, run.id, 'sweep', 'WAITING')).toThrow(/no move to WAITING by sweep/);
    expect(await moveRun(runs, run.id, 'cancel', 'CANCELLED', {}, ['RUNNING'])).toBeNull();
    expect(await moveRun(runs, run.id, 'scheduler', 'RUNNING')).toMatchObject({ status: 'RUNNING' });
    expect(await moveRun(runs, run.id, 'executor', 'WAITING')).toMatchObject({ status: 'WAITING' });
    expect(await moveRun(runs, run.id, 'executor', 'COMPLETED')).toBeNull();
  });
});

describe('the input request state table', () => {
  it('settles a request once: only PENDING moves', () => {
    expect(INPUT_TRANSITIONS.every((t) => t.from === 'PENDING')).toBe(true);
    expect(INPUT_TRANSITIONS.map((t) => t.to).sort()).toEqual(INPUT_STATUSES.filter((s) => s !== 'PENDING').sort());
  });
});
