import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, SEND, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { startTestServer } from '../support/server.ts';

describe('a run through the real server', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('streams a whole run over graphql-ws after an HTTP send', async () => {
    const token = await tokenFor('smoke-user');
    const gql = userClient(server.url, token);
    const sent = await gql(SEND, { input: { text: 'Hello there' } });
    expect(sent.errors).toBeUndefined();
    const { conversation, afterSeq, run } = sent.data.sendAgentMessage;
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: conversation.id, afterSeq });
    const events = await recorder.untilTerminals(1);
    recorder.stop();
    await client.dispose();
    expect(events.map((event) => event.__typename).slice(0, 2)).toEqual(['MessageCreated', 'AgentStarted']);
    expect(events.at(-1)?.__typename).toBe('AgentCompleted');
    expect(events.every((event) => event.runId === run.id)).toBe(true);
  });
});
