import { setTimeout as sleep } from 'node:timers/promises';
import type { IdempotencyStore, ReserveResult } from '../interfaces.ts';
import type { SendReservation } from '../types.ts';
import { LuaScript, pairs, type RedisConnection, type Reply } from './connection.ts';

/**
 * A claim is a hash (`idem:<key>`) with the reservation's JSON (`r`) and whether it is settled
 * (`s`). Claiming is one script, so concurrent repeats through any instances see one winner.
 * A pending claim expires after `pendingTtlMs`, so that the claim of an instance that died
 * mid-send frees the key for a retry; a settled one is kept for `settledTtlMs`.
 */

/** KEYS: claim. ARGV: reservation JSON, pending TTL ms. Returns {1} when claimed, else {0, existing JSON}. */
const RESERVE = new LuaScript(`
local existing = redis.call('HGET', KEYS[1], 'r')
if existing then return {0, existing} end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 's', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1}
`);

/** KEYS: claim. ARGV: settled TTL ms. */
const SETTLE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 's', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`);

export interface RedisIdempotencyOptions {
  pendingTtlMs: number;
  settledTtlMs: number;
}

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly options: RedisIdempotencyOptions,
  ) {}

  async reserve(key: string, reservation: SendReservation): Promise<ReserveResult> {
    const reply = await this.redis.eval<[number] | [number, string]>(RESERVE, [this.claim(key)], [
      JSON.stringify(reservation),
      this.options.pendingTtlMs,
    ]);
    if (Number(reply[0]) === 1) return { reserved: true };
    return { reserved: false, existing: JSON.parse(String(reply[1])) as SendReservation };
  }

  async settle(key: string) {
    await this.redis.eval(SETTLE, [this.claim(key)], [this.options.settledTtlMs]);
  }

  async release(key: string) {
    await this.redis.command(['DEL', this.claim(key)]);
  }

  /** Polls the claim, quickly at first, then every 100 ms: settling is usually a matter of milliseconds. */
  async awaitSettled(key: string, timeoutMs: number): Promise<SendReservation | null> {
    const deadline = Date.now() + timeoutMs;
    let delay = 5;
    for (;;) {
      const claim = pairs(await this.redis.command<Reply>(['HGETALL', this.claim(key)]));
      if (claim['r'] === undefined) return null;
      if (claim['s'] === '1') return JSON.parse(claim['r']) as SendReservation;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`idempotency key still pending after ${timeoutMs} ms`);
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, 100);
    }
  }

  private claim(key: string) {
    return this.redis.key('idem', key);
  }
}
