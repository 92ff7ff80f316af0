/**
 * The CORS policy of the plain HTTP routes (the AG-UI and AI SDK endpoints), the same as the
 * GraphQL path's (browser-origins.ts): pages of the origins in CORS_ALLOWED_ORIGINS may call
 * them; unset, only pages served by the gateway itself (no CORS headers at all).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config.ts';
import { allowedOrigins } from './browser-origins.ts';

const ALLOWED_HEADERS = 'authorization, content-type, last-event-id, accept';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

export function createCorsPolicy(config: Pick<Config, 'CORS_ALLOWED_ORIGINS'>) {
  const origins = new Set(allowedOrigins(config));
  /** Adds the CORS headers the request's origin may have; answers a preflight and returns true. */
  return function applyCors(request: IncomingMessage, response: ServerResponse): boolean {
    const origin = request.headers.origin;
    const allowed = origin !== undefined && origins.has(origin);
    if (allowed) {
      response.setHeader('access-control-allow-origin', origin);
      response.setHeader('vary', 'Origin');
    }
    if (request.method !== 'OPTIONS') return false;
    response.writeHead(
      204,
      allowed
        ? {
            'access-control-allow-methods': 'GET, POST, OPTIONS',
            'access-control-allow-headers': ALLOWED_HEADERS,
            'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
          }
        : {},
    );
    response.end();
    return true;
  };
}
