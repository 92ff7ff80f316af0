/**
 * The signing secret outside production when AUTH_JWT_SECRET is unset. One process alone makes
 * up its own. Instances that share a Redis share one instead, stored there on first use: each
 * making its own would reject every token (and every dev token) issued by the others.
 */
import { randomBytes } from 'node:crypto';
import { createClient, createCluster } from '@redis/client';
import type { Config } from '../config.ts';

export function randomDevSecret(): string {
  return randomBytes(48).toString('base64url');
}

/** The dev secret every instance on this Redis (a URL, or a cluster's nodes) uses: the first to ask stores its own. */
export async function sharedDevSecret(redis: string | readonly string[], keyPrefix: string): Promise<string> {
  // One attempt: without the shared secret this instance could verify no other's tokens.
  const socket = { reconnectStrategy: false, connectTimeout: 5000 } as const;
  const client =
    typeof redis === 'string' ? createClient({ url: redis, socket }) : createCluster({ rootNodes: redis.map((url) => ({ url })), defaults: { socket } });
  client.on('error', () => undefined); // connect() rejects with the same error
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `No AUTH_JWT_SECRET, and Redis (REDIS_URL or REDIS_CLUSTER_NODES) did not answer to share a dev secret with the other instances: ` +
        `${(error as Error).message}. Start Redis, or set AUTH_JWT_SECRET (the same on every instance).`,
      { cause: error },
    );
  }
  try {
    const key = `${keyPrefix}dev-jwt-secret`;
    const candidate = randomDevSecret();
    // SET NX GET: stores ours unless one is there, and answers the one that was.
    const existing = await client.set(key, candidate, { condition: 'NX', GET: true });
    return existing ?? candidate;
  } finally {
    await client.close();
  }
}

/**
 * The secret tokens are signed and verified with, and whether it is a dev secret (which the
 * dev-token endpoint may use). Production without a secret or an identity provider never gets
 * here: loadConfig refuses.
 */
export async function signingSecret(config: Config): Promise<{ secret: string | null; dev: boolean }> {
  if (config.AUTH_JWT_SECRET) return { secret: config.AUTH_JWT_SECRET, dev: false };
  // Tokens come from the identity provider alone: no secret, so no dev tokens either.
  if (config.AUTH_JWKS_URL) return { secret: null, dev: false };
  const redis = config.REDIS_CLUSTER_NODES ?? config.REDIS_URL;
  const secret = redis ? await sharedDevSecret(redis, config.REDIS_KEY_PREFIX) : randomDevSecret();
  return { secret, dev: true };
}
