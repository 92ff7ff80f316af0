import SchemaBuilder from '@pothos/core';
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import type { AgentDefinition } from '../agents/contract.ts';
import type { ConversationService } from '../experience/conversations.ts';
import type { Principal } from '../experience/auth.ts';
import type { Metrics } from '../metrics.ts';
import type { TraceContext } from '../tracing/spans.ts';

/** What every resolver is given: the caller (checked lazily) and the planes' entry points. */
export interface GraphQLContext {
  /** The authenticated caller; rejects with UNAUTHENTICATED when there is none. */
  viewer(): Promise<Principal>;
  conversations: ConversationService;
  agents: readonly AgentDefinition[];
  metrics: Metrics;
  /** The operation's span context (transport/graphql/operation-spans.ts), when tracing is on: a send's run continues it. */
  trace?: TraceContext;
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
  Scalars: {
    DateTime: { Input: string; Output: string };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string };
  };
}>({ defaultFieldNullability: false });

builder.scalarType('DateTime', {
  description: 'An ISO-8601 date and time, such as 2026-01-31T12:00:00.000Z.',
  serialize: (value) => value,
  parseValue: (value) => {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
      throw new GraphQLError('DateTime must be an ISO-8601 string.');
    }
    return new Date(value).toISOString();
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: function parseJsonLiteral(node: ValueNode, variables?: Record<string, unknown> | null): unknown {
    switch (node.kind) {
      case Kind.STRING:
      case Kind.BOOLEAN:
        return node.value;
      case Kind.INT:
      case Kind.FLOAT:
        return Number(node.value);
      case Kind.NULL:
        return null;
      case Kind.LIST:
        return node.values.map((item) => parseJsonLiteral(item, variables));
      case Kind.OBJECT:
        return Object.fromEntries(node.fields.map((field) => [field.name.value, parseJsonLiteral(field.value, variables)]));
      case Kind.VARIABLE:
        return variables?.[node.name.value];
      default:
        throw new GraphQLError('Not a JSON value.');
    }
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
