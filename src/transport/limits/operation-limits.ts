/**
 * Limits on what one operation may ask for, checked before anything runs, on every transport
 * and with or without a token: one document must not be able to keep the only thread busy for
 * seconds (thousands of aliases, pages of a thousand repeated, a million tokens). Tokens, depth,
 * aliases and directives are graphql-armor's rules; the cost (operation-cost.ts) needs the
 * request's variables, which validation (cached per document) does not see, so it is checked
 * when the operation is about to execute.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, getOperationAST, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import type { Config } from '../../config.ts';
import { operationCost } from './operation-cost.ts';

type LimitSetting = 'MAX_OPERATION_TOKENS' | 'MAX_OPERATION_DEPTH' | 'MAX_OPERATION_ALIASES' | 'MAX_OPERATION_DIRECTIVES' | 'MAX_OPERATION_COST';
type LimitConfig = Pick<Config, LimitSetting | 'production'>;
type ArmorConfig = NonNullable<Parameters<typeof EnvelopArmorPlugin>[0]>;
type RejectCallback = NonNullable<NonNullable<ArmorConfig['maxAliases']>['onReject']>[number];

function overLimit(what: string, setting: LimitSetting, limit: number): GraphQLError {
  return new GraphQLError(`Operation refused: ${what}, more than ${limit} (the limit set by ${setting}).`, {
    extensions: { code: 'BAD_USER_INPUT', limit: setting },
  });
}

/** Armor's own message says what it found ("…exceeded, found 31."); ours names the setting too. */
function reportOver(what: (found: string) => string, setting: LimitSetting, limit: number): RejectCallback {
  return (context, error) => {
    const found = /found (\d+)/.exec(error.message)?.[1] ?? '?';
    context?.reportError(overLimit(what(found), setting, limit));
  };
}

export function useOperationLimits(config: LimitConfig): Plugin[] {
  const armor = EnvelopArmorPlugin<YogaInitialContext>({
    maxTokens: {
      n: config.MAX_OPERATION_TOKENS,
      // The parser counts as it reads, so it has to stop by throwing: a huge document is never
      // read to its end.
      onReject: [
        () => {
          throw overLimit('the document has too many tokens', 'MAX_OPERATION_TOKENS', config.MAX_OPERATION_TOKENS);
        },
      ],
    },
    maxDepth: {
      n: config.MAX_OPERATION_DEPTH,
      flattenFragments: true,
      propagateOnRejection: false,
      onReject: [reportOver((found) => `fields nested ${found} deep`, 'MAX_OPERATION_DEPTH', config.MAX_OPERATION_DEPTH)],
    },
    maxAliases: {
      n: config.MAX_OPERATION_ALIASES,
      propagateOnRejection: false,
      onReject: [reportOver((found) => `${found} aliases`, 'MAX_OPERATION_ALIASES', config.MAX_OPERATION_ALIASES)],
    },
    maxDirectives: {
      n: config.MAX_OPERATION_DIRECTIVES,
      propagateOnRejection: false,
      onReject: [reportOver((found) => `${found} directives`, 'MAX_OPERATION_DIRECTIVES', config.MAX_OPERATION_DIRECTIVES)],
    },
    costLimit: { enabled: false }, // operation-cost.ts counts page sizes from variables and defaults too
    // "Did you mean …?" maps the schema for whoever probes it; in production nobody needs it.
    blockFieldSuggestion: { enabled: config.production },
  });
  return [armor, useCostLimit(config.MAX_OPERATION_COST)];
}

function useCostLimit(maxCost: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refusal = operationRefusal(args.schema, args.document, args.operationName, args.variableValues, maxCost);
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refusal = operationRefusal(args.schema, args.document, args.operationName, args.variableValues, maxCost);
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
  };
}

/**
 * Why a valid document must not run with these variables: no operation of that name, or a cost
 * over the limit. graphql-ws asks before it executes, so that the refusal is an `error` message
 * for that operation alone.
 */
export function operationRefusal(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  maxCost: number,
): GraphQLError | null {
  const operation = getOperationAST(document, operationName);
  if (!operation) {
    const message = operationName
      ? `The document has no operation named "${operationName}".`
      : 'The document has several operations: say which to run with operationName.';
    return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  const cost = operationCost(schema, document, operation, variables);
  return cost > maxCost ? overLimit(`a cost of ${cost}`, 'MAX_OPERATION_COST', maxCost) : null;
}
