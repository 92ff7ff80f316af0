/**
 * Bearer JWT authentication: HS256 tokens signed with a shared secret, and tokens signed by an
 * identity provider (Auth0, Keycloak, Cognito, Entra, Clerk…) with the keys it publishes at its
 * JWKS URL, checked for issuer and audience. Outside production and with neither configured, a
 * dev secret (dev-secret.ts) is used so that the dev-token endpoint, the web page and GraphiQL
 * work at once.
 */
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
}

/** The settings, from the configuration and the signing secret (dev-secret.ts's signingSecret). */
export function authSettings(config: Config, signing: { secret: string | null; dev: boolean }): AuthSettings {
  return {
    secret: signing.secret,
    devSecret: signing.dev,
    jwks: config.AUTH_JWKS_URL
      ? { url: config.AUTH_JWKS_URL, cooldownMs: config.AUTH_JWKS_COOLDOWN_MS, cacheMaxAgeMs: config.AUTH_JWKS_CACHE_MS }
      : undefined,
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    algorithms: config.AUTH_JWT_ALGORITHMS.split(',').map((algorithm) => algorithm.trim()),
    tenantClaim: config.AUTH_TENANT_CLAIM,
  };
}

const SHARED_SECRET_ALGORITHM = 'HS256';

export class Authenticator {
  private readonly secretKey: Uint8Array | null;
  private readonly providerKeys: KeyResolver | null;

  constructor(
    private readonly settings: AuthSettings,
    logger: Logger,
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
    try {
      const payload = await this.verify(match[1]);
      if (typeof payload.sub !== 'string' || payload.sub === '') throw unauthenticated('The token has no "sub" claim.');
      const tenant = payload[this.settings.tenantClaim];
      const tenantId = typeof tenant === 'string' && tenant !== '' ? tenant : null;
      return { userId: payload.sub, tenantId, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null };
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
