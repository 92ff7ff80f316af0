/**
 * What the protocols served over plain HTTP (AG-UI, the AI SDK's chat stream) share: the bearer
 * token, a JSON body, and errors as a status with the contract's code, answered before a stream
 * starts. Once a stream has started, each protocol reports errors in its own form (from
 * errorBody, which the older sockets use too).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Principal } from '../../experience/auth.ts';
import { GatewayError, badInput } from '../../errors.ts';
import type { Gateway } from '../../gateway.ts';

export function authenticate(gateway: Gateway, request: IncomingMessage): Promise<Principal> {
  return gateway.auth.authenticate(request.headers.authorization);
}

/** The request's body as JSON (its size is bounded before it is read: request-size.ts). */
export async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw badInput('The body must be JSON.');
  }
}

const STATUS_OF: Record<GatewayError['code'], number> = {
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  EVENTS_EXPIRED: 410,
  SERVICE_UNAVAILABLE: 503,
};

/**
 * The error as a client of any protocol may see it: a GatewayError's code, message and
 * extensions; anything unexpected masked as INTERNAL_SERVER_ERROR and logged with an id.
 */
export function errorBody(error: unknown, logger: Logger): { code: string; message: string } & Record<string, unknown> {
  if (error instanceof GatewayError) return { code: error.code, message: error.message, ...error.extensions };
  const errorId = randomUUID();
  logger.error({ err: error, errorId }, 'unexpected error');
  return { code: 'INTERNAL_SERVER_ERROR', message: `Internal server error (error id ${errorId}).`, errorId };
}

/** The error as JSON `{error: {code, message, …}}` with its status (errorBody). */
export function answerError(response: ServerResponse, error: unknown, logger: Logger): void {
  const body = errorBody(error, logger);
  const status = error instanceof GatewayError ? STATUS_OF[error.code] : 500;
  const retryAfterMs = body['retryAfterMs'];
  if (typeof retryAfterMs === 'number') response.setHeader('retry-after', Math.ceil(retryAfterMs / 1000));
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ error: body }));
}

/** `Last-Event-ID` as a seq, or null when absent; anything but a non-negative integer is BAD_USER_INPUT. */
export function lastEventId(request: IncomingMessage): number | null {
  const header = request.headers['last-event-id'];
  if (header === undefined || header === '') return null;
  const value = Number(header);
  if (!Number.isSafeInteger(value) || value < 0) throw badInput('Last-Event-ID must be a seq: a non-negative integer.');
  return value;
}

/** What a client is told of an error once its stream has started: the code and message; anything unexpected is masked and logged. */
export function streamError(error: unknown, logger: Logger, protocol: string): { code: string; message: string } {
  if (error instanceof GatewayError) return { code: error.code, message: error.message };
  logger.error({ err: error, protocol }, 'a stream failed');
  return { code: 'INTERNAL_SERVER_ERROR', message: 'The stream failed.' };
}
