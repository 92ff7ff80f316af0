/**
 * The plain HTTP endpoints beside /graphql: the other protocols (AG-UI, the AI SDK's chat
 * stream), the probes (health, readiness, metrics), dev tokens, the limits a send must keep and
 * the web page, and GraphQL over HTTP and SSE at /graphql (yoga), as one table of routes. A
 * request none of them takes is not the gateway's: the application serving it answers.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gateway } from '../../gateway.ts';
import { createCorsPolicy } from './cors.ts';
import { sendJson as send, type Probes } from './probes.ts';
import { createAgUiEndpoint } from '../protocols/ag-ui.ts';
import { createAiSdkEndpoint } from '../protocols/ai-sdk.ts';
import { refuseUnboundedBody } from '../limits/request-size.ts';
import type { Yoga } from '../graphql/yoga.ts';

const WEB_ROOT = fileURLToPath(new URL('../../../web/dist/', import.meta.url));
const DEV_TOKEN_TTL_SECONDS = 24 * 3600;
const MAX_DEV_TOKEN_BODY_BYTES = 4096;
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The other protocols' endpoints, each answering or returning false (see protocols/). */
type ProtocolEndpoint = (request: IncomingMessage, response: ServerResponse, path: string) => Promise<boolean>;

/**
 * One route: the paths it takes, whether browsers on other origins may call it (the CORS policy
 * the GraphQL path has), and what answers it (false: not this route's after all).
 */
interface Route {
  matches(path: string, method: string): boolean;
  cors: boolean;
  serve(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> | boolean;
}

export interface HttpRouteOptions {
  /** GraphQL over HTTP and SSE, at its endpoint. */
  yoga: Yoga;
  /** Serve the chat page at `/` (and its assets). */
  webPage: boolean;
}

export function createHttpRoutes(gateway: Gateway, probe: Probes, options: HttpRouteOptions) {
  const { yoga } = options;
  const applyCors = createCorsPolicy(gateway.config);
  const protocols: ProtocolEndpoint[] = [createAgUiEndpoint(gateway), createAiSdkEndpoint(gateway)];
  const devTokens = gateway.auth.ephemeral && !gateway.config.production;
  const routes: Route[] = [
    {
      matches: (path) => /^\/(ag-ui|ai-sdk)(\/|$)/.test(path),
      cors: true,
      async serve(request, response, path) {
        for (const serve of protocols) if (await serve(request, response, path)) return true;
        return false;
      },
    },
    { matches: (path) => path === '/healthz' || path === '/readyz' || path === '/metrics', cors: false, serve: (_, response, path) => probe(path, response) },
    { matches: (path) => devTokens && path === '/auth/dev-token', cors: false, serve: (request, response) => issueDevToken(gateway, request, response) },
    {
      // The page checks what it sends against this gateway's settings, not a copy of their defaults.
      matches: (path, method) => path === '/limits' && method === 'GET',
      cors: false,
      serve: (_, response) => send(response, 200, { maxTextLength: gateway.config.MAX_TEXT_LENGTH, maxContextBytes: gateway.config.MAX_CONTEXT_BYTES }),
    },
    {
      matches: (path, method) => options.webPage && method === 'GET' && !path.startsWith(yoga.graphqlEndpoint),
      cors: false,
      serve: (_, response, path) => serveWebPage(path, response),
    },
    {
      // Yoga answers CORS for its endpoint itself (browser-origins.ts).
      matches: (path) => path === yoga.graphqlEndpoint,
      cors: false,
      serve: async (request, response) => {
        await yoga(request, response);
        return true;
      },
    },
  ];
  /** Answers the request and returns true when it is one of the gateway's; false leaves it to whoever serves the rest. */
  return async function route(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const method = request.method ?? 'GET';
    const taker = routes.find((each) => each.matches(path, method));
    if (!taker) return false;
    if (taker.cors && applyCors(request, response)) return true;
    // Every body is bounded, /graphql's too, before anything reads it.
    if (refuseUnboundedBody(request, response, gateway.config.MAX_REQUEST_BYTES)) return true;
    return taker.serve(request, response, path);
  };
}

async function issueDevToken(gateway: Gateway, request: IncomingMessage, response: ServerResponse): Promise<boolean> {
  if (request.method !== 'POST') return send(response, 405, { error: 'Use POST with {"userId": "..."}.' });
  let body = '';
  for await (const chunk of request) {
    body += chunk;
    if (body.length > MAX_DEV_TOKEN_BODY_BYTES) return send(response, 413, { error: 'Body too large.' });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return send(response, 400, { error: 'Body must be JSON: {"userId": "..."}.' });
  }
  const { userId, tenantId } = (parsed ?? {}) as { userId?: unknown; tenantId?: unknown };
  const validId = (value: unknown) => typeof value === 'string' && value.length > 0 && value.length <= 128;
  if (!validId(userId) || (tenantId !== undefined && tenantId !== null && !validId(tenantId))) {
    return send(response, 400, { error: 'userId (and tenantId, if given) must be 1 to 128 characters.' });
  }
  const token = await gateway.auth.issue({ userId: userId as string, tenantId: (tenantId as string | undefined) ?? null }, DEV_TOKEN_TTL_SECONDS);
  return send(response, 200, { token });
}

async function serveWebPage(path: string, response: ServerResponse): Promise<boolean> {
  const file = normalize(join(WEB_ROOT, path === '/' ? 'index.html' : path));
  if (!file.startsWith(WEB_ROOT.endsWith(sep) ? WEB_ROOT : WEB_ROOT + sep)) return false;
  // Build bookkeeping such as .source-hash is not part of the page.
  if (path.split('/').some((segment) => segment.startsWith('.'))) return false;
  try {
    const content = await readFile(file);
    response.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      // Vite names assets by their content hash: they never change. index.html always may.
      'cache-control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    response.end(content);
    return true;
  } catch {
    if (path !== '/') return false;
    response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    response.end('The web page is not built yet: run `npm run build:web` (npm start does it when missing).');
    return true;
  }
}
