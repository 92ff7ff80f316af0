/**
 * Records kept in memory are copied once, when written, and frozen all the way down: every
 * reader is then handed the stored record itself, and reading copies nothing, while nothing a
 * writer still holds, nor a reader, can change what is stored.
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
