import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './conversations.ts';
import './send.ts';
import './subscription.ts';

export type { GraphQLContext } from './builder.ts';

export const schema: GraphQLSchema = builder.toSchema({ sortSchema: true });

/** The SDL checked in as schema.graphql. */
export const printedSchema = (): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
