/**
 * Records are data that nobody changes in place. The memory stores copy a record once, when it is
 * written, and freeze it all the way down: every reader is then handed the stored record itself,
 * so reading copies nothing, and neither the writer nor a reader can change what is stored. What
 * an agent is handed (its run's input, the history) is frozen alike, on every backend.
 */

/** A deep copy of `value`, frozen all the way down. */
export function frozenCopy<T>(value: T): T {
  return deepFreeze(structuredClone(value));
}

/**
 * Freezes `value` and everything it holds. A frozen value is taken to be frozen all the way down
 * (the stores freeze what they hand out with this function) and is not visited: a run's history
 * of stored messages costs a look at each message. Nor is a value met again (a cycle): it is
 * frozen by then.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  // An array by index: Object.keys would make a list of its indexes, and a for...of loop an
  // iterator result per item (test/unit/frozen.test.ts counts the bytes).
  if (Array.isArray(value)) for (let index = 0; index < value.length; index += 1) deepFreeze(value[index]);
  else for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}
