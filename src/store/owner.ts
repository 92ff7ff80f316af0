import type { Owner } from '../domain/records.ts';

/**
 * One string per (tenant, user), for keys and comparisons. A tenant id is prefixed with "t"
 * so that no tenant's name can collide with the tenant-less space (the empty string).
 */
export const ownerKey = (owner: Owner): string =>
  `${owner.tenantId === null ? '' : `t${encodeURIComponent(owner.tenantId)}`}:${encodeURIComponent(owner.userId)}`;

export const sameOwner = (a: Owner, b: Owner): boolean => ownerKey(a) === ownerKey(b);
