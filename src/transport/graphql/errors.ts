/**
 * How errors reach clients: the contract's code in `extensions.code`, and nothing internal.
 * Unexpected errors are logged with an id that the client sees, so a report can be traced.
 */
import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.ts';

export function toClientError(error: unknown, logger: Logger): GraphQLError {
  const graphQLError = error instanceof GraphQLError ? error : null;
  const original = graphQLError?.originalError ?? (graphQLError ? null : error);
  const location = graphQLError ? { nodes: graphQLError.nodes, path: graphQLError.path } : {};
  if (original instanceof GatewayError) {
    return new GraphQLError(original.message, { ...location, extensions: { code: original.code, ...original.extensions } });
  }
  if (graphQLError && (!original || original instanceof GraphQLError)) {
    // Parse, validation and variable-coercion errors: the request itself is at fault, which the
    // contract calls BAD_USER_INPUT whatever name the library gave it.
    return new GraphQLError(graphQLError.message, {
      ...location,
      extensions: { ...graphQLError.extensions, code: 'BAD_USER_INPUT' },
    });
  }
  const errorId = randomUUID();
  logger.error({ err: original, errorId }, 'unexpected error');
  return new GraphQLError(`Internal server error (error id ${errorId}).`, {
    ...location,
    extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
  });
}

/** Yoga's error masking, for the paths that do not pass through yoga (WebSocket subscriptions). */
export function clientErrorMasking(production: boolean, logger: Logger): (error: unknown) => GraphQLError {
  return (error) => {
    const clientError = toClientError(error, logger);
    return production ? withoutSuggestions(clientError) : clientError;
  };
}

/**
 * The error without graphql-js's "Did you mean …?" hints, which map the schema (field, type and
 * enum value names) for whoever probes it.
 */
export function withoutSuggestions(error: GraphQLError): GraphQLError {
  const message = error.message.replace(/\s*Did you mean [^?]*\?/g, '');
  if (message === error.message) return error;
  return new GraphQLError(message, { nodes: error.nodes, path: error.path, extensions: error.extensions });
}

/**
 * Errors of a request that never ran (parse, validation) as the contract names them. A document
 * nested deeper than the stack, or a rule that throws instead of reporting (`@skip(if: 1)` on a
 * subscription's root field), is the request's fault too, not an internal error.
 */
export function useContractErrorCodes(logger: Logger): Plugin {
  return {
    onParse:
      () =>
      ({ result, replaceParseResult }) => {
        if (result instanceof Error) replaceParseResult(toClientError(requestFault(result), logger));
      },
    onValidate: ({ validateFn, setValidationFn }) => {
      setValidationFn((...args) => {
        try {
          return validateFn(...args);
        } catch (error) {
          return [requestFault(error)];
        }
      });
      return ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map((error) => toClientError(error, logger)));
      };
    },
  };
}

function requestFault(error: unknown): unknown {
  if (error instanceof RangeError) {
    return new GraphQLError('The document is nested too deeply.', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return error;
}
