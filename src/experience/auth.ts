/**
 * Bearer JWT authentication (HS256). Outside production and without a configured secret, an
 * ephemeral one is made so that the dev-token endpoint, the web page and GraphiQL work at once.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { GatewayError } from '../errors.ts';
import type { Owner } from '../store/types.ts';

export interface Principal extends Owner {
  /** When the token stops being valid, in epoch milliseconds; null when it has no `exp`. */
  expiresAt: number | null;
}

export class Authenticator {
  private readonly key: Uint8Array;

  /** @param secret the configured secret; absent, an ephemeral one is made (dev only). */
  constructor(secret: string | undefined) {
    this.key = new TextEncoder().encode(secret ?? randomBytes(48).toString('base64url'));
    this.ephemeral = secret === undefined;
  }

  /** True when the secret was made up at start: tokens then die with the process. */
  readonly ephemeral: boolean;

  /** Verifies an `Authorization` value (`Bearer <jwt>`); throws UNAUTHENTICATED on anything else. */
  async authenticate(authorization: unknown): Promise<Principal> {
    if (typeof authorization !== 'string' || authorization.trim() === '') {
      throw unauthenticated('Missing bearer token: send "Authorization: Bearer <jwt>".');
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match?.[1]) throw unauthenticated('Malformed authorization: expected "Bearer <jwt>".');
    try {
      const { payload } = await jwtVerify(match[1], this.key, { algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || payload.sub === '') throw unauthenticated('The token has no "sub" claim.');
      const tenantId = typeof payload['tid'] === 'string' && payload['tid'] !== '' ? payload['tid'] : null;
      return { userId: payload.sub, tenantId, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null };
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('The token has expired.');
      throw unauthenticated('The token is invalid.');
    }
  }

  async issue(owner: Owner, ttlSeconds: number): Promise<string> {
    const jwt = new SignJWT(owner.tenantId ? { tid: owner.tenantId } : {})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(owner.userId)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`);
    return jwt.sign(this.key);
  }
}

const unauthenticated = (message: string) => new GatewayError('UNAUTHENTICATED', message);
