/**
 * The operation limits' defaults leave room for every document we know clients send: the web
 * page's operations (and so the typed client generated from them), GraphiQL's prefilled ones and
 * its schema fetch, and every operation in the README. Each must pass with every limit halved.
 */
import { readFileSync } from 'node:fs';
import { getIntrospectionQuery, print, type DocumentNode, type GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { schema } from '../../src/schema/index.ts';
import { useOperationLimits, operationRefusal } from '../../src/transport/operation-limits.ts';
import { GRAPHIQL_QUERY } from '../../src/transport/yoga.ts';
import * as page from '../../web/src/operations.ts';

const defaults = loadConfig({});
const half = {
  production: true,
  MAX_OPERATION_TOKENS: defaults.MAX_OPERATION_TOKENS / 2,
  MAX_OPERATION_DEPTH: defaults.MAX_OPERATION_DEPTH / 2,
  MAX_OPERATION_ALIASES: defaults.MAX_OPERATION_ALIASES / 2,
  MAX_OPERATION_DIRECTIVES: defaults.MAX_OPERATION_DIRECTIVES / 2,
  MAX_OPERATION_COST: defaults.MAX_OPERATION_COST / 2,
};

/** Operations in the README: JSON bodies of its curl examples and graphql(`…`) documents. */
function readmeOperations(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const fromCurl = [...readme.matchAll(/"query":("(?:[^"\\]|\\.)*")/g)].map((match) => JSON.parse(match[1]!) as string);
  const fromCode = [...readme.matchAll(/graphql\(`([^`]*)`\)/g)].map((match) => match[1]!);
  return [...fromCurl, ...fromCode];
}

/** The variables clients send with them (web/src/main.ts asks for 100 messages and 30 conversations). */
const VARIABLES = { id: 'c', conversationId: 'c', afterSeq: 0, last: 100, first: 30, runId: 'r', input: { text: 'hi' } };

const documents: [string, string][] = [
  ...Object.entries(page).map(([name, document]) => [`web page ${name}`, print(document as DocumentNode)] as [string, string]),
  ['GraphiQL prefilled operations', GRAPHIQL_QUERY],
  ['GraphiQL and codegen schema fetch', getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true })],
  ...readmeOperations().map((query, index) => [`README operation ${index + 1}`, query] as [string, string]),
];

describe('operation limit defaults', () => {
  const enveloped = createYoga({ schema, plugins: useOperationLimits(half) }).getEnveloped({});
  const parse = (source: string): DocumentNode => enveloped.parse(source);
  const validate = (...args: Parameters<typeof enveloped.validate>): readonly GraphQLError[] => enveloped.validate(...args);

  it('finds the documents, and checks them against the limits', () => {
    expect(documents.length).toBeGreaterThanOrEqual(12);
    expect(readmeOperations().length).toBeGreaterThanOrEqual(4);
    const aliases = Array.from({ length: half.MAX_OPERATION_ALIASES + 1 }, (_, index) => `a${index}: viewer { id }`);
    expect(validate(schema, parse(`{ ${aliases.join(' ')} }`)).map((error) => error.extensions['limit'])).toEqual(['MAX_OPERATION_ALIASES']);
  });

  it.each(documents)('%s fits every limit at half its default', (_label, source) => {
    const document = parse(source);
    expect(validate(schema, document)).toEqual([]);
    const operations = document.definitions.flatMap((definition) =>
      definition.kind === 'OperationDefinition' ? [definition.name?.value] : [],
    );
    for (const name of operations) {
      expect(operationRefusal(schema, document, name, VARIABLES, half.MAX_OPERATION_COST), name).toBeNull();
    }
  });
});
