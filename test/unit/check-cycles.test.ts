/** The import-cycle check that `npm run check` runs over src/. */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { findCycles, folderGraph, importGraph } from '../../scripts/check-cycles.ts';
import { PROJECT_ROOT } from '../support/process.ts';

it('names each cycle once, self-imports included, and nothing in an acyclic graph', () => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a', 'd']],
    ['d', []],
    ['e', ['e']],
  ]);
  expect(findCycles(graph)).toEqual([
    ['a', 'b', 'c', 'a'],
    ['e', 'e'],
  ]);
  expect(
    findCycles(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
  ).toEqual([]);
});

it('finds none in src/, whose graph it reads type-only imports included', () => {
  const graph = importGraph(join(PROJECT_ROOT, 'src'));
  const records = join(PROJECT_ROOT, 'src/domain/records.ts');
  expect(graph.get(join(PROJECT_ROOT, 'src/domain/events.ts'))).toContain(records);
  expect(findCycles(graph)).toEqual([]);
});

it('finds none between src/ folders either: the event log lives with its backend, below events/', () => {
  const root = join(PROJECT_ROOT, 'src');
  const folders = folderGraph(importGraph(root), root);
  expect(folders.get('events')).toContain('store');
  expect(folders.get('store')).not.toContain('events');
  expect(folders.get('domain')).toEqual([]);
  expect(findCycles(folders)).toEqual([]);
});
