/**
 * Bearer JWT authentication (HS256). Outside production and without a configured secret, a dev
 * secret (dev-secret.ts) is used so that the dev-token endpoint, the web page and GraphiQL work at once.
 */
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { GatewayError } from '../errors.ts';
import type { Owner } from '../store/types.ts';

export interface Principal extends Owner {
  /** When the token stops being valid, in epoch milliseconds; null when it has no `exp`. */
  expiresAt: number | null;
}

export class Authenticator {
  private readonly key: Uint8Array;

  /**
   * @param secret the signing secret
   * @param ephemeral true for a dev secret (made up, or shared by the instances on one Redis),
   *   which the dev-token endpoint may sign with
   */
  constructor(secret: string, readonly ephemeral: boolean) {
    this.key = new TextEncoder().encode(secret);
  }

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

  /** @param expiresIn seconds, or a span such as "1h" or "30m" */
  async issue(owner: Owner, expiresIn: number | string): Promise<string> {
    const jwt = new SignJWT(owner.tenantId ? { tid: owner.tenantId } : {})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(owner.userId)
      .setIssuedAt()
      .setExpirationTime(typeof expiresIn === 'number' ? `${expiresIn}s` : expiresIn);
    return jwt.sign(this.key);
  }
}

const unauthenticated = (message: string) => new GatewayError('UNAUTHENTICATED', message);
