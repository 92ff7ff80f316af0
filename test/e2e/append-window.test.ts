/**
 * A run ends as soon as its agent returns, however long the window that streamed text waits in
 * to go out with more (APPEND_COALESCE_MS, an hour here): what still waits is stored when the run
 * waits for its events before it ends. An agent that streams at once, while its AgentStarted is
 * still on its way to the store, and returns, used to wait for the window's end on PostgreSQL.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import type { RunningServer } from '../../src/server.ts';
import { tokenFor } from '../support/clients.ts';
import { expectRunInvariants, sendAndFollow, typesOf } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const quick: AgentDefinition = {
  id: 'test.quick',
  kind: 'LIAISON',
  pillar: null,
  name: 'Quick',
  description: 'Streams two pieces at once and returns.',
  async run(context) {
    await context.stream('Hello ');
    await context.stream('there');
  },
};

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer({ APPEND_COALESCE_MS: String(60 * 60 * 1000) }, { agents: [quick] });
});
afterAll(async () => {
  await server?.close();
});

it('ends a run when its agent returns, storing the streamed text that waited for the window', async () => {
  const token = await tokenFor('append-window');
  const { sent, events } = await sendAndFollow(server.url, token, { text: 'Hi', target: { kind: 'LIAISON', agentId: quick.id } });
  expectRunInvariants(events, { runId: sent.runId, agentId: quick.id });
  expect(typesOf(events)).toEqual(['MessageCreated', 'AgentStarted', 'AgentToken', 'AgentToken', 'AgentCompleted']);
  expect(events.at(-1)).toMatchObject({ message: { text: 'Hello there' } });
});
