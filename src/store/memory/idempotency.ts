import { EventEmitter } from 'node:events';
import type { IdempotencyStore } from '../interfaces.ts';
import type { SendReservation } from '../types.ts';

interface Claim {
  reservation: SendReservation;
  settled: boolean;
  expiresAt: number;
}

/** A send that claimed its key but neither settled nor released it (it died) frees it after this. */
const PENDING_TTL_MS = 60_000;
/** Expired keys are dropped on access, and all of them once per this many reservations. */
const SWEEP_EVERY = 1000;

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly claims = new Map<string, Claim>();
  private readonly changes = new EventEmitter().setMaxListeners(0);
  private reservationsSinceSweep = 0;

  /** @param ttlMs how long a settled key is remembered, as with Redis (IDEMPOTENCY_TTL_MS). */
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async reserve(key: string, reservation: SendReservation) {
    this.sweepNowAndThen();
    const existing = this.live(key);
    if (existing) return { reserved: false as const, existing: { ...existing.reservation } };
    this.claims.set(key, { reservation: { ...reservation }, settled: false, expiresAt: this.now() + PENDING_TTL_MS });
    return { reserved: true as const };
  }

  async settle(key: string) {
    const claim = this.live(key);
    if (!claim) return;
    claim.settled = true;
    claim.expiresAt = this.now() + this.ttlMs;
    this.changes.emit(key);
  }

  async release(key: string) {
    this.claims.delete(key);
    this.changes.emit(key);
  }

  awaitSettled(key: string, timeoutMs: number): Promise<SendReservation | null> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const claim = this.live(key);
        if (claim && !claim.settled) return false;
        finish();
        resolve(claim ? { ...claim.reservation } : null);
        return true;
      };
      const finish = () => {
        clearTimeout(timer);
        this.changes.off(key, check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`idempotency key still pending after ${timeoutMs} ms`));
      }, timeoutMs);
      this.changes.on(key, check);
      check();
    });
  }

  private live(key: string): Claim | undefined {
    const claim = this.claims.get(key);
    if (claim && claim.expiresAt <= this.now()) {
      this.claims.delete(key);
      return undefined;
    }
    return claim;
  }

  private sweepNowAndThen() {
    this.reservationsSinceSweep += 1;
    if (this.reservationsSinceSweep < SWEEP_EVERY) return;
    this.reservationsSinceSweep = 0;
    for (const key of [...this.claims.keys()]) this.live(key);
  }
}
