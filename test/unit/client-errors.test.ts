import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.ts';
import { toClientError } from '../../src/transport/graphql/errors.ts';
import { capturingLogger } from '../support/logs.ts';

describe('toClientError', () => {
  it('masks an unexpected error, logging it once with the id the client sees', () => {
    const { logger, lines } = capturingLogger();
    const wrapped = new GraphQLError('boom', { path: ['sendAgentMessage'], originalError: new Error('secret detail at /srv/db') });
    const error = toClientError(wrapped, logger);
    expect(error.extensions['code']).toBe('INTERNAL_SERVER_ERROR');
    expect(error.message).not.toContain('secret');
    expect(error.path).toEqual(['sendAgentMessage']);
    const errorId = error.extensions['errorId'];
    expect(error.message).toContain(String(errorId));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, errorId, err: { message: 'secret detail at /srv/db' } });
  });

  it("passes the contract's codes through with their extensions, without logging", () => {
    const { logger, lines } = capturingLogger();
    const limited = new GatewayError('RATE_LIMITED', 'Too many', { retryAfterMs: 1200 });
    const error = toClientError(new GraphQLError(limited.message, { originalError: limited }), logger);
    expect(error.message).toBe('Too many');
    expect(error.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterMs: 1200 });
    expect(lines).toEqual([]);
  });

  it('calls a request that does not validate BAD_USER_INPUT', () => {
    const { logger } = capturingLogger();
    const validation = new GraphQLError('Unknown argument "x"', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(toClientError(validation, logger).extensions['code']).toBe('BAD_USER_INPUT');
  });
});
