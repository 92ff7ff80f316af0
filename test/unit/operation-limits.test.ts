/**
 * The operation limits' defaults leave room for every document we know clients send: the web
 * page's operations (and so the typed client generated from them), GraphiQL's prefilled ones and
 * its schema fetch, every operation in the README, docs/ and examples/. Each must pass with every
 * limit halved.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { getIntrospectionQuery, print, type DocumentNode, type GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { schema } from '../../src/schema/index.ts';
import { useOperationLimits, operationRefusal } from '../../src/transport/limits/operation-limits.ts';
import { GRAPHIQL_QUERY } from '../../src/transport/graphql/yoga.ts';
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

/** The graphql(`…`) documents in a file. */
const documentsIn = (text: string) => [...text.matchAll(/graphql\(`([^`]*)`\)/g)].map((match) => match[1]!);
const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** The README and the pages of docs/, where operations are shown. */
const DOCUMENTATION = [
  'README.md',
  ...readdirSync(new URL('../../docs/', import.meta.url))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/**
 * Operations in the documentation: JSON bodies of its curl examples, the README's client
 * snippet (quoted queries) and graphql(`…`) documents.
 */
function documentedOperations(): string[] {
  return DOCUMENTATION.flatMap((path) => {
    const text = read(path);
    const fromCurl = [...text.matchAll(/"query":("(?:[^"\\]|\\.)*")/g)].map((match) => JSON.parse(match[1]!) as string);
    const quoted = [...text.matchAll(/'((?:mutation|subscription|query) [^']*)'/g)].map((match) => match[1]!);
    return [...fromCurl, ...quoted, ...documentsIn(text)];
  });
}

/** The typed Node client in examples/ (its generated code is not checked in, so read as text). */
const exampleOperations = () => documentsIn(read('examples/client/src/operations.ts'));

/** The variables clients send with them (web/src/main.ts asks for 100 messages and 30 conversations). */
const VARIABLES = { id: 'c', conversationId: 'c', afterSeq: 0, last: 100, first: 30, runId: 'r', input: { text: 'hi' } };

const documents: [string, string][] = [
  // Fragments (PendingInput) are sent only inside the operations that spread them.
  ...Object.entries(page)
    .filter(([, document]) => (document as DocumentNode).definitions.some((definition) => definition.kind === 'OperationDefinition'))
    .map(([name, document]) => [`web page ${name}`, print(document as DocumentNode)] as [string, string]),
  ['GraphiQL prefilled operations', GRAPHIQL_QUERY],
  [
    'GraphiQL and codegen schema fetch',
    getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }),
  ],
  ...documentedOperations().map((query, index) => [`documented operation ${index + 1}`, query] as [string, string]),
  ...exampleOperations().map((query, index) => [`examples/client operation ${index + 1}`, query] as [string, string]),
];

describe('operation limit defaults', () => {
  const enveloped = createYoga({ schema, plugins: useOperationLimits(half) }).getEnveloped({});
  const parse = (source: string): DocumentNode => enveloped.parse(source);
  const validate = (...args: Parameters<typeof enveloped.validate>): readonly GraphQLError[] => enveloped.validate(...args);

  it('finds the documents, and checks them against the limits', () => {
    expect(documents.length).toBeGreaterThanOrEqual(12);
    expect(documentedOperations().length).toBeGreaterThanOrEqual(6);
    expect(exampleOperations().length).toBeGreaterThanOrEqual(3);
    const aliases = Array.from({ length: half.MAX_OPERATION_ALIASES + 1 }, (_, index) => `a${index}: viewer { id }`);
    expect(validate(schema, parse(`{ ${aliases.join(' ')} }`)).map((error) => error.extensions['limit'])).toEqual(['MAX_OPERATION_ALIASES']);
  });

  it.each(documents)('%s fits every limit at half its default', (_label, source) => {
    const document = parse(source);
    expect(validate(schema, document)).toEqual([]);
    const operations = document.definitions.flatMap((definition) => (definition.kind === 'OperationDefinition' ? [definition.name?.value] : []));
    for (const name of operations) {
      expect(operationRefusal(schema, document, name, VARIABLES, half.MAX_OPERATION_COST), name).toBeNull();
    }
  });
});
