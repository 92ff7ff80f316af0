/**
 * The compiled execution of subscription selections (transport/fan-out/event-selection.ts) must answer
 * exactly as graphql-js does: for every event type, for the selections the web page, GraphiQL,
 * the client docs and the example client send, and for events that fail (with the errors masked the same way).
 */
import { readFileSync } from 'node:fs';
import { execute, parse, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/domain/events.ts';
import type { MessageRecord } from '../../src/domain/records.ts';
import { schema } from '../../src/schema/index.ts';
import { clientErrorMasking } from '../../src/transport/graphql/errors.ts';
import { eventSelectionFor } from '../../src/transport/fan-out/event-selection.ts';
import { GRAPHIQL_QUERY } from '../../src/transport/graphql/yoga.ts';
import { AgentEvents } from '../../web/src/operations.ts';
import { capturingLogger } from '../support/logs.ts';

/** The subscriptions the client docs and the example client show, read from where they are written. */
const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const subscriptionsIn = (path: string) =>
  [...read(path).matchAll(/graphql\(`([^`]*)`\)/g)].map((match) => match[1]!).filter((text) => text.includes('subscription'));
const [DOCS_FOLLOW_RUN] = subscriptionsIn('docs/clients.md');
const [EXAMPLE_FOLLOW_RUN] = subscriptionsIn('examples/client/src/operations.ts');

/** Selection variables and skipped fields, with a fragment: shapes the shared execution keys apart. */
const WITH_VARIABLES = /* GraphQL */ `
  subscription Shaped($conversationId: ID!, $withDelta: Boolean!, $skipUsage: Boolean = false) {
    agentEvents(conversationId: $conversationId) {
      ...Common
      ... on AgentToken {
        delta @include(if: $withDelta)
      }
      ... on AgentCompleted {
        usage @skip(if: $skipUsage) {
          inputTokens
          outputTokens
          totalTokens
        }
        message {
          ...Message
        }
      }
    }
  }
  fragment Common on AgentEvent {
    kind: __typename
    id
    seq
    at: timestamp
    conversationId
  }
  fragment Message on Message {
    id
    role
    agentId
    runId
    seq
    createdAt
  }
`;

const base = { conversationId: 'c-1', runId: 'r-1', agentId: 'agent-a', timestamp: '2026-11-30T12:00:00.000Z' };
const message = (seq: number, role: 'USER' | 'AGENT'): MessageRecord => ({
  id: `m-${seq}`,
  conversationId: 'c-1',
  role,
  text: `text ${seq}`,
  agentId: role === 'AGENT' ? 'agent-a' : null,
  runId: 'r-1',
  seq,
  createdAt: '2026-11-30T12:00:00.000Z',
});
const error = { code: 'TOOL_FAILED', message: 'no such table', retryable: true };

const EVENTS: StoredEvent[] = [
  { ...base, agentId: null, id: 'e1', seq: 1, type: 'MessageCreated', message: message(1, 'USER') },
  { ...base, id: 'e2', seq: 2, type: 'AgentStarted' },
  { ...base, id: 'e3', seq: 3, type: 'AgentThinking', text: 'thinking' },
  { ...base, id: 'e4', seq: 4, type: 'ToolExecuting', toolCallId: 't1', toolName: 'query', arguments: { sql: 'select 1', n: [1, 2] } },
  { ...base, id: 'e5', seq: 5, type: 'ToolCompleted', toolCallId: 't1', toolName: 'query', result: [{ a: 1 }], error: null, durationMs: 12 },
  { ...base, id: 'e6', seq: 6, type: 'ToolCompleted', toolCallId: 't2', toolName: 'query', result: null, error, durationMs: 3 },
  { ...base, id: 'e7', seq: 7, type: 'AgentHandoff', fromAgentId: 'agent-a', toAgentId: 'agent-b', reason: 'specialist' },
  { ...base, id: 'e8', seq: 8, type: 'AgentToken', delta: 'Hel' },
  { ...base, id: 'e9', seq: 9, type: 'AgentArtifact', artifactId: 'a1', kind: 'TABLE', title: 'Sales', data: { rows: [[1, 'x']] } },
  { ...base, id: 'e10', seq: 10, type: 'AgentCompleted', message: message(10, 'AGENT'), usage: { inputTokens: 3, outputTokens: null, totalTokens: 3 } },
  { ...base, id: 'e11', seq: 11, type: 'AgentCompleted', message: message(11, 'AGENT'), usage: null },
  { ...base, id: 'e12', seq: 12, type: 'AgentFailed', error },
  { ...base, id: 'e13', seq: 13, type: 'AgentCancelled', reason: 'user' },
];

/** Events that break the schema's promises: a non-null field missing, a wrong enum value, a bad scalar. */
const BROKEN = [
  { ...base, id: 'b1', seq: 1, type: 'AgentToken' },
  { ...base, id: 'b2', seq: 2, type: 'AgentArtifact', artifactId: 'a1', kind: 'NOT_A_KIND', title: 'x', data: {} },
  { ...base, id: 'b3', seq: 'three', type: 'AgentCancelled', reason: 'user' },
  { ...base, id: 'b4', seq: 4, type: 'AgentFailed', error: null },
] as unknown as StoredEvent[];

const SELECTIONS: [string, DocumentNode, string | undefined, Record<string, unknown>][] = [
  ['the web page', AgentEvents as DocumentNode, undefined, { conversationId: 'c-1', afterSeq: 0 }],
  ['GraphiQL', parse(GRAPHIQL_QUERY), 'Follow', {}],
  ['docs/clients.md', parse(DOCS_FOLLOW_RUN!), undefined, { conversationId: 'c-1', runId: 'r-1' }],
  ['the example client', parse(EXAMPLE_FOLLOW_RUN!), undefined, { conversationId: 'c-1', runId: 'r-1' }],
  ['selection variables and fragments', parse(WITH_VARIABLES), undefined, { conversationId: 'c-1', withDelta: true }],
  ['other selection variables', parse(WITH_VARIABLES), undefined, { conversationId: 'c-1', withDelta: false, skipUsage: true }],
];

/** What a WebSocket client receives: the result with its errors masked, minus the random error ids. */
function asClientSees(result: ExecutionResult): unknown {
  const mask = clientErrorMasking(true, capturingLogger().logger);
  const errors = result.errors?.map((each) => {
    const masked = mask(each).toJSON();
    const errorId = masked.extensions?.['errorId'];
    return JSON.parse(JSON.stringify(masked).replaceAll(String(errorId), 'ERROR-ID'));
  });
  return JSON.parse(JSON.stringify({ ...result, errors }));
}

describe('compiled event selections', () => {
  for (const [name, document, operationName, variableValues] of SELECTIONS) {
    const args: ExecutionArgs = { schema, document, operationName, variableValues, contextValue: {} };

    it(`compiles ${name}, answering every event type as graphql-js does`, async () => {
      const selection = eventSelectionFor(args);
      expect(selection.compiled).toBe(true);
      const executedBy: boolean[] = [];
      for (const event of EVENTS) {
        const compiled = await selection.execute(args, event, (byCompiled) => executedBy.push(byCompiled));
        const interpreted = await execute({ ...args, rootValue: event });
        expect(compiled.errors).toBeUndefined();
        expect(JSON.stringify(compiled)).toBe(JSON.stringify(interpreted));
      }
      expect(executedBy).toEqual(EVENTS.map(() => true));
    });

    it(`fails ${name} on broken events with the errors graphql-js gives, masked alike`, async () => {
      const selection = eventSelectionFor(args);
      const executedBy: boolean[] = [];
      const failed: boolean[] = [];
      for (const event of BROKEN) {
        const compiled = await selection.execute(args, event, (byCompiled) => executedBy.push(byCompiled));
        const interpreted = await execute({ ...args, rootValue: event });
        failed.push(Boolean(compiled.errors));
        expect(asClientSees(compiled)).toEqual(asClientSees(interpreted));
      }
      // Every selection reads seq, so at least that event fails; events failing go through graphql-js.
      expect(failed).toContain(true);
      expect(executedBy).toEqual(failed.map((each) => !each));
    });
  }

  it('compiles each document once, and falls back to graphql-js for what does not compile', () => {
    const args: ExecutionArgs = { schema, document: parse(DOCS_FOLLOW_RUN!), variableValues: { conversationId: 'c-1' } };
    expect(eventSelectionFor({ ...args, variableValues: { conversationId: 'c-2' } })).toBe(eventSelectionFor(args));
    const unknownOperation = eventSelectionFor({ ...args, operationName: 'NoSuchOperation' });
    expect(unknownOperation.compiled).toBe(false);
  });
});
