import type { ClaimedLease, ExpiredLease, RunLeases } from '../interfaces.ts';

interface Lease {
  conversationId: string;
  holder: string;
  expiresAt: number;
  epoch: number;
}

/** Leases in this process: with one process nobody survives a death, but the contract still holds. */
export class MemoryRunLeases implements RunLeases {
  private readonly leases = new Map<string, Lease>();
  /** The last epoch given: each change of hands gets a greater one (see `drawEpoch`). */
  private lastEpoch = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async acquire(runId: string, conversationId: string, holder: string, ttlMs: number) {
    return this.acquireSync(runId, conversationId, holder, ttlMs);
  }

  /** As `acquire`, for a caller that must not yield (an atomic send). */
  acquireSync(runId: string, conversationId: string, holder: string, ttlMs: number): number {
    const epoch = this.epochFor(this.leases.get(runId), holder);
    this.leases.set(runId, { conversationId, holder, expiresAt: this.now() + ttlMs, epoch });
    return epoch;
  }

  /** The epoch of the run's lease (undefined without one), for appends fenced with it. */
  epochSync(runId: string): number | undefined {
    return this.leases.get(runId)?.epoch;
  }

  async renew(runId: string, holder: string, ttlMs: number) {
    const lease = this.leases.get(runId);
    if (!lease || lease.holder !== holder) return false;
    lease.expiresAt = this.now() + ttlMs;
    return true;
  }

  async release(runId: string, holder: string | null) {
    const lease = this.leases.get(runId);
    if (lease === undefined || (holder !== null && lease.holder !== holder)) return 0;
    this.leases.delete(runId);
    return this.drawEpoch();
  }

  async claimExpired(holder: string, ttlMs: number, limit: number) {
    const now = this.now();
    const claimed: ClaimedLease[] = [];
    const expired = [...this.leases].filter(([, lease]) => lease.expiresAt <= now).sort(([, a], [, b]) => a.expiresAt - b.expiresAt);
    for (const [runId, lease] of expired.slice(0, Math.max(0, limit))) {
      lease.epoch = this.epochFor(lease, holder);
      lease.holder = holder;
      lease.expiresAt = now + ttlMs;
      claimed.push({ runId, conversationId: lease.conversationId, epoch: lease.epoch });
    }
    return claimed;
  }

  async adopt(runs: readonly ExpiredLease[], holder: string, ttlMs: number) {
    for (const { runId, conversationId } of runs) {
      if (!this.leases.has(runId)) this.acquireSync(runId, conversationId, holder, ttlMs);
    }
  }

  private epochFor(lease: Lease | undefined, holder: string): number {
    return lease?.holder === holder ? lease.epoch : this.drawEpoch();
  }

  /**
   * The next epoch: one more than the last, and never below the clock in microseconds, so that
   * epochs given after a restart (or by a live layer that lost its data) are above every one
   * given before, for a store of record that orders changes of hands by them.
   */
  private drawEpoch(): number {
    this.lastEpoch = Math.max(this.lastEpoch + 1, Math.floor(this.now() * 1000));
    return this.lastEpoch;
  }
}
