/**
 * How record values come back from a row, whichever driver read it: node-postgres hands a
 * timestamptz as a Date and a bigint as a string (it may exceed a double), another driver may not.
 */

/** A timestamptz column as the ISO string the records hold (UTC, milliseconds). */
export function isoOf(value: Date | string): string {
  return new Date(value).toISOString();
}

export function isoOrNull(value: Date | string | null): string | null {
  return value === null ? null : isoOf(value);
}

/** A bigint column that holds a seq, a position or an epoch: far below 2^53. */
export function numberOf(value: string | number | bigint): number {
  return Number(value);
}
