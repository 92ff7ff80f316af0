/** deepFreeze: everything a value holds is frozen, in arrays and objects alike; a cycle ends. */
import { expect, it } from 'vitest';
import { deepFreeze } from '../../src/domain/frozen.ts';

it('freezes arrays, their items and objects all the way down', () => {
  const value = { messages: [{ text: 'hi', parts: [{ kind: 'text' }] }], context: { tags: ['a'] } };
  deepFreeze(value);
  expect(Object.isFrozen(value.messages)).toBe(true);
  expect(Object.isFrozen(value.messages[0])).toBe(true);
  expect(Object.isFrozen(value.messages[0]!.parts[0])).toBe(true);
  expect(Object.isFrozen(value.context.tags)).toBe(true);
  expect(() => value.messages.push({ text: 'more', parts: [] })).toThrow(TypeError);
});

it('ends on a cycle', () => {
  const node: { next?: unknown; items: unknown[] } = { items: [] };
  node.next = node;
  node.items.push(node);
  expect(deepFreeze(node)).toBe(node);
  expect(Object.isFrozen(node.items)).toBe(true);
});
