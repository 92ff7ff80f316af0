import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.ts';
import type { LockService } from '../interfaces.ts';
import { LuaScript, type RedisConnection } from './connection.ts';

/**
 * Mutual exclusion across instances: `lock:<key>` is SET NX PX with a random token, extended
 * while the holder works (so a long holder keeps it, and a dead one loses it after `ttlMs`),
 * and deleted only by the holder that set it. Waiters retry with a capped, jittered backoff and
 * give up with a clear error after `waitMs`.
 */

/** KEYS: lock. ARGV: token. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/** KEYS: lock. ARGV: token, ttl ms. */
const EXTEND = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

export interface RedisLockOptions {
  /** How long a lock outlives a holder that stopped extending it. */
  ttlMs: number;
  /** How long a caller waits for a lock before giving up. */
  waitMs: number;
  logger?: Logger;
}

export class RedisLockService implements LockService {
  constructor(
    private readonly redis: RedisConnection,
    private readonly options: RedisLockOptions,
  ) {}

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const lock = this.redis.keys.lock(key);
    const token = randomUUID();
    await this.acquire(lock, token, key);
    const extender = setInterval(
      () => {
        this.redis.eval(EXTEND, [lock], [token, this.options.ttlMs]).then(
          (extended) => {
            if (Number(extended) === 0) this.options.logger?.warn({ lock: key }, 'a lock expired while its holder still worked');
          },
          () => undefined, // Redis is away: the holder's own commands fail too.
        );
      },
      Math.max(10, Math.floor(this.options.ttlMs / 3)),
    );
    extender.unref();
    try {
      return await fn();
    } finally {
      clearInterval(extender);
      await this.redis.eval(RELEASE, [lock], [token]).catch(() => undefined); // else it expires by itself
    }
  }

  private async acquire(lock: string, token: string, key: string): Promise<void> {
    const deadline = Date.now() + this.options.waitMs;
    let delay = 2;
    for (;;) {
      const set = await this.redis.command(['SET', lock, token, 'NX', 'PX', this.options.ttlMs]);
      if (set === 'OK') return;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new GatewayError('SERVICE_UNAVAILABLE', `Timed out after ${this.options.waitMs} ms waiting for the lock on ${key}; retry shortly.`, {
          retryAfterMs: 1000,
        });
      }
      await sleep(Math.min(left, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 50);
    }
  }
}
