/**
 * What browsers may do across origins. CORS: pages of the origins in CORS_ALLOWED_ORIGINS may
 * call the API; unset, only pages served by the gateway itself (no CORS headers at all).
 * CSRF: a request a browser would send cross-site without asking first (a "simple" GET or form
 * POST) is refused unless it carries a header such a request cannot carry. The bearer token is
 * one (every operation but introspection needs it anyway), so clients need nothing extra.
 */
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { Plugin, YogaServerOptions } from 'graphql-yoga';
import type { Config } from '../../config.ts';

/** Headers that make a browser ask first (preflight): yoga's own, and `Authorization`. */
const PREFLIGHTED_HEADERS = ['x-graphql-yoga-csrf', 'authorization'];

/** The origins of CORS_ALLOWED_ORIGINS, for GraphQL and the plain HTTP routes (http/cors.ts) alike. */
export function allowedOrigins(config: Pick<Config, 'CORS_ALLOWED_ORIGINS'>): string[] {
  return (
    config.CORS_ALLOWED_ORIGINS?.split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== '') ?? []
  );
}

export function corsOptions(config: Pick<Config, 'CORS_ALLOWED_ORIGINS'>): YogaServerOptions<object, object>['cors'] {
  const origins = allowedOrigins(config);
  if (!origins.length) return false;
  return { origin: origins, credentials: false };
}

export function useCsrfPrevention(): Plugin {
  return useCSRFPrevention({ requestHeaders: PREFLIGHTED_HEADERS });
}
