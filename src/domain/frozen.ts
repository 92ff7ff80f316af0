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

/** Freezes `value` and everything it holds; a value met again (a cycle) is frozen already and not visited twice. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
