/** OperationsById: answers as a Map would, whatever the order of changes, and keeps one operation for far less. */
import { expect, it } from 'vitest';
import { OperationsById } from '../../src/transport/graphql/operations-by-id.ts';
import { bytesRetainedBy } from '../support/allocations.ts';

it('answers as a Map does through any sequence of sets, deletes and clears', () => {
  const ids = ['1', '2', '3', '4'];
  // A fixed pseudo-random walk, so that a failure is the same every run.
  let seed = 7;
  const next = (below: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % below);
  const model = new Map<string, number | null>();
  const operations = new OperationsById<number | null>();
  for (let step = 0; step < 5000; step += 1) {
    const id = ids[next(ids.length)]!;
    const action = next(10);
    if (action < 4) {
      const value = next(3) === 0 ? null : step;
      model.set(id, value);
      operations.set(id, value);
    } else if (action < 9) {
      expect(operations.delete(id)).toBe(model.delete(id));
    } else {
      model.clear();
      operations.clear();
    }
    expect(operations.size).toBe(model.size);
    for (const each of ids) {
      expect(operations.has(each)).toBe(model.has(each));
      expect(operations.get(each)).toBe(model.get(each));
    }
    expect(new Set(operations.values())).toEqual(new Set(model.values()));
  }
});

it('hands out its operations as an array that later changes leave as it was', () => {
  const operations = new OperationsById<string>();
  operations.set('1', 'a');
  operations.set('2', 'b');
  const taken = operations.values();
  operations.clear();
  expect(taken.sort()).toEqual(['a', 'b']);
  expect(operations.size).toBe(0);
});

it('keeps one operation in about 60 bytes, where a Map kept about 190', () => {
  const CONNECTIONS = 10_000;
  const operation = {};
  const bytes = Math.min(
    ...[1, 2, 3].map(() => {
      const { bytes, kept } = bytesRetainedBy(() =>
        Array.from({ length: CONNECTIONS }, () => {
          const operations = new OperationsById<object>();
          operations.set('1', operation);
          return operations;
        }),
      );
      expect(kept[CONNECTIONS - 1]!.get('1')).toBe(operation);
      return bytes;
    }),
  );
  // Per connection, with its slot in the array that keeps them: about 65 bytes; with a Map, 191.
  expect(bytes / CONNECTIONS).toBeLessThan(120);
});
