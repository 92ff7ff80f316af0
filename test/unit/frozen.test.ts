/** deepFreeze: everything a value holds is frozen, in arrays and objects alike; a cycle ends; a run's history of frozen messages costs no allocation per message. */
import { expect, it } from 'vitest';
import { deepFreeze } from '../../src/domain/frozen.ts';
import { bytesAllocatedBy } from '../support/allocations.ts';

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

it('hands over a history of messages frozen already without allocating anything per message', () => {
  const MESSAGES = 200;
  const CALLS = 1000;
  const BATCHES = 3;
  const stored = Array.from({ length: MESSAGES }, (_, seq) => deepFreeze({ id: `m${seq}`, role: 'USER', text: `message ${seq}`, seq }));
  // Fresh arrays, as a run's history read is, made before counting; the first calls compile deepFreeze.
  const histories = Array.from({ length: CALLS * (1 + BATCHES) }, () => stored.slice());
  for (const history of histories.slice(0, CALLS)) deepFreeze(history);
  const batches = Array.from({ length: BATCHES }, (_, batch) => histories.slice(CALLS * (batch + 1), CALLS * (batch + 2)));
  // The least of a few batches: what V8 allocates once in a while of its own (compiling
  // deepFreeze again, say: 260 KB once, among the suite's other files) is not a cost per message.
  const bytes = Math.min(
    ...batches.map((batch) =>
      bytesAllocatedBy(() => {
        for (const history of batch) deepFreeze(history);
      }),
    ),
  );
  // Walking the array by Object.keys made a list of its indexes (8 bytes a message), and a
  // for...of loop an iterator result per message (40 bytes); by index it allocates nothing.
  expect(bytes / (CALLS * MESSAGES)).toBeLessThan(1);
});
