/**
 * The operations GraphiQL opens with: valid, Follow selecting every event type, and working as
 * its comment says against a real gateway (Send, then Follow with the ids pasted in, ending by itself).
 */
import { Kind, isAbstractType, parse, validate, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.ts';
import type { RunningServer } from '../../src/server.ts';
import { GRAPHIQL_QUERY } from '../../src/transport/graphql/yoga.ts';
import { tokenFor, wsClient } from '../support/clients.ts';
import { startTestServer } from '../support/server.ts';

const document = parse(GRAPHIQL_QUERY);
const operation = (name: string) =>
  document.definitions.find(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION && definition.name?.value === name,
  )!;

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

it('is valid and its Follow selects every event type', () => {
  expect(validate(schema, document)).toEqual([]);
  const eventType = schema.getType('AgentEvent');
  if (!eventType || !isAbstractType(eventType)) throw new Error('AgentEvent is not an interface');
  const everyType = schema
    .getPossibleTypes(eventType)
    .map((type) => type.name)
    .sort();
  const field = operation('Follow').selectionSet.selections[0]!;
  if (field.kind !== Kind.FIELD) throw new Error('Follow does not start with agentEvents');
  const selected = field.selectionSet!.selections.flatMap((selection) =>
    selection.kind === Kind.INLINE_FRAGMENT ? [selection.typeCondition!.name.value] : [],
  );
  expect(selected.sort()).toEqual(everyType);
});

it('Send, then Follow with the ids pasted in, streams the whole run and ends', async () => {
  const token = await tokenFor('graphiql-user');
  // A document of several operations runs the one named, as GraphiQL's run button names it.
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: GRAPHIQL_QUERY, operationName: 'Send' }),
  });
  const { data } = (await response.json()) as { data: { sendAgentMessage: { conversation: { id: string }; run: { id: string } } } };
  const follow = GRAPHIQL_QUERY.replace('PASTE-CONVERSATION-ID', data.sendAgentMessage.conversation.id).replace('PASTE-RUN-ID', data.sendAgentMessage.run.id);
  const client = wsClient(server.url, token);
  const types: string[] = [];
  for await (const result of client.iterate<{ agentEvents: { __typename: string } }>({ query: follow, operationName: 'Follow' })) {
    expect(result.errors).toBeUndefined();
    types.push(result.data!.agentEvents.__typename);
  }
  await client.dispose();
  expect(types[0]).toBe('MessageCreated');
  expect(types.at(-1)).toBe('AgentCompleted');
  expect(new Set(types)).toEqual(
    new Set(['MessageCreated', 'AgentStarted', 'AgentThinking', 'ToolExecuting', 'ToolCompleted', 'AgentArtifact', 'AgentToken', 'AgentCompleted']),
  );
});
