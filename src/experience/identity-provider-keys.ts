/**
 * The signing keys an identity provider publishes at its JWKS URL, through jose's remote key set:
 * cached, fetched again when a token names a key id not yet seen (at most once per cooldown, so
 * that made-up key ids cannot make us hammer the provider), and so picking up rotated keys.
 *
 * What jose leaves to us is an unreachable provider: once its cache is stale, jose asks the
 * provider before every verification and fails every token when it does not answer. Here the keys
 * already known keep verifying while the provider is away, and it is asked again at most once per
 * cooldown; only tokens signed with keys we have never seen are refused meanwhile.
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, type JWTHeaderParameters } from 'jose';
import type { Logger } from 'pino';

export interface IdentityProviderKeySettings {
  url: string;
  /** Least time between two fetches caused by unknown key ids or by failures. */
  cooldownMs: number;
  /** How long a fetched key set is used before it is fetched again. */
  cacheMaxAgeMs: number;
}

export type KeyResolver = (header: JWTHeaderParameters) => Promise<CryptoKey>;

export function identityProviderKeys(settings: IdentityProviderKeySettings, logger: Logger): KeyResolver {
  const remote = createRemoteJWKSet(new URL(settings.url), {
    cooldownDuration: settings.cooldownMs,
    cacheMaxAge: settings.cacheMaxAgeMs,
  });
  let failedAt = Number.NEGATIVE_INFINITY;
  let known: { jwks: JSONWebKeySet; resolve: ReturnType<typeof createLocalJWKSet> } | null = null;
  const fromKnownKeys = (header: JWTHeaderParameters) => {
    const jwks = remote.jwks();
    if (!jwks) return null;
    if (known?.jwks !== jwks) known = { jwks, resolve: createLocalJWKSet(jwks) };
    return known.resolve(header);
  };

  return async (header) => {
    if (Date.now() - failedAt < settings.cooldownMs) {
      const key = await fromKnownKeys(header);
      if (key) return key;
    }
    try {
      return await remote(header);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      failedAt = Date.now();
      logger.warn({ err: error, url: settings.url }, "the identity provider's key set could not be fetched; known keys still verify");
      const key = await fromKnownKeys(header);
      if (key) return key;
      throw error;
    }
  };
}
