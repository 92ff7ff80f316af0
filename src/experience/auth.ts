/**
 * Bearer JWT authentication: HS256 tokens signed with a shared secret, and tokens signed by an
 * identity provider (Auth0, Keycloak, Cognito, Entra, Clerk…) with the keys it publishes at its
 * JWKS URL, checked for issuer and audience. Outside production and with neither configured, a
 * dev secret (dev-secret.ts) is used so that the dev-token endpoint, the web page and GraphiQL
 * work at once.
 */
import { LRUCache } from 'lru-cache';
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { GatewayError } from '../errors.ts';
import type { Owner } from '../domain/records.ts';
import { identityProviderKeys, type KeyResolver } from './identity-provider-keys.ts';

export interface Principal extends Owner {
  /** When the token stops being valid, in epoch milliseconds; null when it has no `exp`. */
  expiresAt: number | null;
}

export interface AuthSettings {
  /** The HS256 secret; null when tokens come from the identity provider alone. */
  secret: string | null;
  /** True for a dev secret (made up, or shared by the instances on one Redis), which the dev-token endpoint may sign with. */
  devSecret: boolean;
  jwks?: { url: string; cooldownMs: number; cacheMaxAgeMs: number } | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Algorithms accepted from the identity provider (asymmetric ones only). */
  algorithms: string[];
  /** The claim that holds the tenant id. */
  tenantClaim: string;
  /** How long a verified token is trusted before its signature is checked again (0: never trusted). */
  tokenCacheMs: number;
}

/** The settings, from the configuration and the signing secret (dev-secret.ts's signingSecret). */
export function authSettings(config: Config, signing: { secret: string | null; dev: boolean }): AuthSettings {
  return {
    secret: signing.secret,
    devSecret: signing.dev,
    jwks: config.AUTH_JWKS_URL ? { url: config.AUTH_JWKS_URL, cooldownMs: config.AUTH_JWKS_COOLDOWN_MS, cacheMaxAgeMs: config.AUTH_JWKS_CACHE_MS } : undefined,
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    algorithms: config.AUTH_JWT_ALGORITHMS.split(',').map((algorithm) => algorithm.trim()),
    tenantClaim: config.AUTH_TENANT_CLAIM,
    tokenCacheMs: config.AUTH_TOKEN_CACHE_MS,
  };
}

const SHARED_SECRET_ALGORITHM = 'HS256';
/** Verified tokens kept at most; the least recently used go first. */
const TOKEN_CACHE_ENTRIES = 10_000;

/** Whether a token's signature was checked now, or trusted from an earlier check. */
export type TokenCheck = 'verified' | 'cached';

export class Authenticator {
  private readonly secretKey: Uint8Array | null;
  private readonly providerKeys: KeyResolver | null;
  /**
   * Tokens already verified, by the whole token (the key is exactly what was signed, so no two
   * tokens share an entry), each until its exp or for tokenCacheMs, whichever comes first: a
   * client sends the same token with every request, and checking its signature again each time
   * was a tenth of the gateway's busy CPU. A changed shared secret takes a restart, which empties
   * the cache; a key the identity provider stopped publishing still admits the tokens checked
   * with it for at most tokenCacheMs.
   */
  private readonly verified = new LRUCache<string, { principal: Principal; until: number }>({ max: TOKEN_CACHE_ENTRIES });

  constructor(
    private readonly settings: AuthSettings,
    logger: Logger,
    private readonly onCheck: (check: TokenCheck) => void = () => undefined,
  ) {
    this.ephemeral = settings.devSecret;
    this.secretKey = settings.secret === null ? null : new TextEncoder().encode(settings.secret);
    this.providerKeys = settings.jwks ? identityProviderKeys(settings.jwks, logger) : null;
  }

  /** True for a dev secret, which the dev-token endpoint may sign with. */
  readonly ephemeral: boolean;

  /** Verifies an `Authorization` value (`Bearer <jwt>`); throws UNAUTHENTICATED on anything else. */
  async authenticate(authorization: unknown): Promise<Principal> {
    if (typeof authorization !== 'string' || authorization.trim() === '') {
      throw unauthenticated('Missing bearer token: send "Authorization: Bearer <jwt>".');
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match?.[1]) throw unauthenticated('Malformed authorization: expected "Bearer <jwt>".');
    const token = match[1];
    const now = Date.now();
    const known = this.verified.get(token);
    if (known && known.until > now) {
      this.onCheck('cached');
      return known.principal;
    }
    try {
      const payload = await this.verify(token);
      if (typeof payload.sub !== 'string' || payload.sub === '') throw unauthenticated('The token has no "sub" claim.');
      const tenant = payload[this.settings.tenantClaim];
      const tenantId = typeof tenant === 'string' && tenant !== '' ? tenant : null;
      const principal = { userId: payload.sub, tenantId, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null };
      this.onCheck('verified');
      if (this.settings.tokenCacheMs > 0) {
        this.verified.set(token, { principal, until: Math.min(principal.expiresAt ?? Infinity, now + this.settings.tokenCacheMs) });
      }
      return principal;
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('The token has expired.');
      throw unauthenticated('The token is invalid.');
    }
  }

  /**
   * A shared-secret token is verified with the secret; any other with the identity provider's
   * keys, for its issuer and audience. Which is which comes from the token's own header, but
   * each path accepts only its own algorithms, so a header cannot talk one into the other.
   */
  private async verify(token: string): Promise<JWTPayload> {
    if (decodeProtectedHeader(token).alg === SHARED_SECRET_ALGORITHM) {
      if (!this.secretKey) throw unauthenticated('The token is invalid.');
      return (await jwtVerify(token, this.secretKey, { algorithms: [SHARED_SECRET_ALGORITHM] })).payload;
    }
    if (!this.providerKeys) throw unauthenticated('The token is invalid.');
    const { issuer, audience, algorithms } = this.settings;
    return (await jwtVerify(token, this.providerKeys, { algorithms, ...(issuer && { issuer }), ...(audience && { audience }) })).payload;
  }

  /**
   * A shared-secret token (the dev-token endpoint, GraphiQL, `npm run token`).
   * @param expiresIn seconds, or a span such as "1h" or "30m"
   */
  async issue(owner: Owner, expiresIn: number | string): Promise<string> {
    if (!this.secretKey) throw new Error('Tokens can be issued only with a shared secret.');
    const jwt = new SignJWT(owner.tenantId ? { [this.settings.tenantClaim]: owner.tenantId } : {})
      .setProtectedHeader({ alg: SHARED_SECRET_ALGORITHM })
      .setSubject(owner.userId)
      .setIssuedAt()
      .setExpirationTime(typeof expiresIn === 'number' ? `${expiresIn}s` : expiresIn);
    return jwt.sign(this.secretKey);
  }
}

const unauthenticated = (message: string) => new GatewayError('UNAUTHENTICATED', message);
