import { EventEmitter } from 'node:events';
import type { IdempotencyStore } from '../interfaces.ts';
import type { SendReservation } from '../types.ts';

interface Claim {
  reservation: SendReservation;
  settled: boolean;
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly claims = new Map<string, Claim>();
  private readonly changes = new EventEmitter().setMaxListeners(0);

  async reserve(key: string, reservation: SendReservation) {
    const existing = this.claims.get(key);
    if (existing) return { reserved: false as const, existing: { ...existing.reservation } };
    this.claims.set(key, { reservation: { ...reservation }, settled: false });
    return { reserved: true as const };
  }

  async settle(key: string) {
    const claim = this.claims.get(key);
    if (!claim) return;
    claim.settled = true;
    this.changes.emit(key);
  }

  async release(key: string) {
    this.claims.delete(key);
    this.changes.emit(key);
  }

  awaitSettled(key: string, timeoutMs: number): Promise<SendReservation | null> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const claim = this.claims.get(key);
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
}
