/** ListenersByKey: what add and remove answer, a walk that listeners change under, and what a key with one listener keeps. */
import { expect, it } from 'vitest';
import { ListenersByKey } from '../../src/store/listeners-by-key.ts';
import { bytesRetainedBy } from '../support/allocations.ts';

it("answers whether a listener is its key's first and whether removing one left the key with none", () => {
  const listeners = new ListenersByKey<string>();
  expect(listeners.add('c1', 'a')).toBe(true);
  expect(listeners.add('c1', 'b')).toBe(false);
  expect(listeners.add('c2', 'c')).toBe(true);
  expect(listeners.of('c1')).toEqual(['a', 'b']);
  expect(listeners.remove('c1', 'a')).toBe(false);
  expect(listeners.remove('c1', 'a')).toBe(false);
  expect(listeners.remove('c1', 'b')).toBe(true);
  expect(listeners.has('c1')).toBe(false);
  expect(listeners.of('c1')).toEqual([]);
  expect([...listeners.keys()]).toEqual(['c2']);
});

it('changes nothing for a listener removed before a clear, nor for one never added', () => {
  const listeners = new ListenersByKey<string>();
  listeners.add('c1', 'a');
  listeners.clear();
  listeners.add('c1', 'b');
  expect(listeners.remove('c1', 'a')).toBe(false);
  expect(listeners.remove('c9', 'a')).toBe(false);
  expect(listeners.of('c1')).toEqual(['b']);
});

it('leaves the listeners being walked as they were when listeners join or leave during the walk', () => {
  const listeners = new ListenersByKey<() => void>();
  const told: string[] = [];
  const late = () => told.push('late');
  const second = () => told.push('second');
  const first = () => {
    told.push('first');
    listeners.remove('c1', second);
    listeners.add('c1', late);
  };
  listeners.add('c1', first);
  listeners.add('c1', second);
  for (const listener of listeners.of('c1')) listener();
  expect(told).toEqual(['first', 'second']);
  expect(listeners.of('c1')).toEqual([first, late]);
});

it('keeps about a hundred bytes per key with one listener, where a Set per key kept two hundred', () => {
  const KEYS = 20_000;
  const keys = Array.from({ length: KEYS }, (_, n) => `conversation-${n}`);
  const listener = () => undefined;
  // The least of a few tries: V8's own work (compiling, say) may land in one.
  const bytes = Math.min(
    ...[1, 2, 3].map(() => {
      const { bytes, kept } = bytesRetainedBy(() => {
        const listeners = new ListenersByKey<() => void>();
        for (const key of keys) listeners.add(key, listener);
        return listeners;
      });
      expect(kept.of(keys[KEYS - 1]!)).toEqual([listener]);
      return bytes;
    }),
  );
  // The Map's share of a key is about 46 bytes and an array of one 56; a Set of one was 152.
  expect(bytes / KEYS).toBeLessThan(130);
});
