/**
 * Errors every layer may raise, carrying the contract's codes. The GraphQL adapter turns them
 * into `extensions.code`; anything else that escapes is masked as INTERNAL_SERVER_ERROR.
 */
export type ErrorCode = 'UNAUTHENTICATED' | 'NOT_FOUND' | 'BAD_USER_INPUT' | 'CONFLICT' | 'RATE_LIMITED' | 'EVENTS_EXPIRED' | 'SERVICE_UNAVAILABLE';

export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export const notFound = (what: string): GatewayError => new GatewayError('NOT_FOUND', `${what} not found`);

export const badInput = (message: string, field?: string): GatewayError => new GatewayError('BAD_USER_INPUT', message, field ? { field } : {});
