import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { SEND, tokenFor, userClient, type GraphQLResponse } from '../support/clients.ts';
import { awaitRunEnd } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const LOG = `query ($id: ID!) { conversation(id: $id) { runs { id } messages { id } events(first: 1000) { __typename runId } } }`;

describe('idempotent sends by clientMessageId', () => {
  let server: RunningServer;
  let gql: ReturnType<typeof userClient>;
  beforeAll(async () => {
    server = await startTestServer({ AGENT_STEP_DELAY_MS: '1' });
    gql = userClient(server.url, await tokenFor('repeater'));
  });
  afterAll(() => server.close());

  const payloadIds = (response: GraphQLResponse) => {
    expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
    const payload = response.data.sendAgentMessage;
    return { conversation: payload.conversation.id, message: payload.message.id, run: payload.run.id, afterSeq: payload.afterSeq };
  };

  it('concurrent repeats into a new conversation make one message and one run', async () => {
    const input = { text: 'Only once', clientMessageId: 'once-1' };
    const responses = await Promise.all(Array.from({ length: 12 }, () => gql(SEND, { input })));
    const ids = responses.map(payloadIds);
    expect(new Set(ids.map((id) => JSON.stringify(id))).size).toBe(1);
    const log = (await gql(LOG, { id: ids[0]!.conversation })).data.conversation;
    expect(log.runs).toEqual([{ id: ids[0]!.run }]);
    expect(log.messages[0]).toEqual({ id: ids[0]!.message });
    expect(log.events.filter((event: { __typename: string }) => event.__typename === 'MessageCreated')).toHaveLength(1);
    expect((await gql(`{ conversations(first: 100) { id } }`)).data.conversations).toHaveLength(1);
  });

  it('concurrent repeats into an existing conversation make one run, and a later repeat returns it too', async () => {
    const first = payloadIds(await gql(SEND, { input: { text: 'Start' } }));
    const input = { text: 'Continue', conversationId: first.conversation, clientMessageId: 'once-2' };
    const ids = (await Promise.all(Array.from({ length: 8 }, () => gql(SEND, { input })))).map(payloadIds);
    expect(new Set(ids.map((id) => id.run)).size).toBe(1);
    expect(await awaitRunEnd(server.url, await tokenFor('repeater'), ids[0]!.run)).toBe('COMPLETED');
    const later = await gql(SEND, { input });
    expect(payloadIds(later)).toEqual(ids[0]);
    expect(later.data.sendAgentMessage.run.status).toBe('COMPLETED');
    const log = (await gql(LOG, { id: first.conversation })).data.conversation;
    expect(log.runs).toHaveLength(2);
  });

  it('a repeat whose text differs still returns the first send', async () => {
    const first = payloadIds(await gql(SEND, { input: { text: 'Original', clientMessageId: 'once-3' } }));
    const repeat = await gql(SEND, { input: { text: 'Edited', clientMessageId: 'once-3' } });
    expect(payloadIds(repeat)).toEqual(first);
    expect(repeat.data.sendAgentMessage.message.text).toBe('Original');
  });
});
