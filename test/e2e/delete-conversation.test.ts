/**
 * deleteConversation: the owner's conversation and everything of it is gone from every store
 * (messages, runs, events, idempotency keys); its active runs are cancelled first; live
 * subscriptions to it end with NOT_FOUND. `true` when it deleted something, `false` otherwise,
 * also for someone else's conversation, which stays as it was.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EventRecorder, SEND, tokenFor, userClient, wsClient } from '../support/clients.ts';
import { startTestServer } from '../support/server.ts';

const DELETE = 'mutation ($id: ID!) { deleteConversation(id: $id) }';
const CONVERSATION = 'query ($id: ID!) { conversation(id: $id) { id lastSeq messages { id } runs { id } } }';
const CONVERSATIONS = 'query { conversations(first: 100) { id } }';
const RUN = 'query ($id: ID!) { run(id: $id) { id status } }';

describe('deleting a conversation', () => {
  let server: RunningServer;
  let slow: RunningServer;
  const clients: ReturnType<typeof wsClient>[] = [];

  beforeAll(async () => {
    [server, slow] = await Promise.all([startTestServer(), startTestServer({ AGENT_STEP_DELAY_MS: '600000' })]);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([server?.close(), slow?.close()]);
  });

  /** A conversation of `token`'s with one finished run, sent with `clientMessageId`. */
  async function finished(token: string, clientMessageId: string) {
    const sent = (await userClient(server.url, token)(SEND, { input: { text: 'Hello there', clientMessageId } })).data.sendAgentMessage;
    const client = wsClient(server.url, token);
    clients.push(client);
    const recorder = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq });
    await recorder.untilTerminals(1);
    recorder.stop();
    return sent;
  }

  it('removes it and everything of it, and forgets its idempotency keys', async () => {
    const token = await tokenFor(`deleter-${randomUUID()}`);
    const as = userClient(server.url, token);
    const clientMessageId = randomUUID();
    const sent = await finished(token, clientMessageId);
    const other = await finished(token, randomUUID());

    expect(await as(DELETE, { id: sent.conversation.id })).toEqual({ data: { deleteConversation: true } });
    expect((await as(CONVERSATION, { id: sent.conversation.id })).data.conversation).toBeNull();
    expect((await as(RUN, { id: sent.run.id })).data.run).toBeNull();
    expect((await as(CONVERSATIONS)).data.conversations).toEqual([{ id: other.conversation.id }]);
    // A subscription to it now is one to a conversation that does not exist.
    const client = wsClient(server.url, token);
    clients.push(client);
    const late = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: 0 });
    await late.untilEnded();
    expect(late.events).toEqual([]);
    expect(late.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    // The same clientMessageId is a new send now: nothing of the first one answers it.
    const again = (await as(SEND, { input: { text: 'Hello there', clientMessageId } })).data.sendAgentMessage;
    expect(again.run.id).not.toBe(sent.run.id);
    expect(again.conversation.id).not.toBe(sent.conversation.id);
    // Deleting it again deletes nothing.
    expect(await as(DELETE, { id: sent.conversation.id })).toEqual({ data: { deleteConversation: false } });
    // The other conversation is as it was.
    expect((await as(CONVERSATION, { id: other.conversation.id })).data.conversation).toMatchObject({
      id: other.conversation.id,
      runs: [{ id: other.run.id }],
    });
  });

  it("answers false for someone else's conversation and an unknown one, and leaves them as they are", async () => {
    const owner = await tokenFor(`owner-${randomUUID()}`);
    const intruder = await tokenFor(`intruder-${randomUUID()}`);
    const sent = await finished(owner, randomUUID());
    const before = await userClient(server.url, owner)(CONVERSATION, { id: sent.conversation.id });

    expect(await userClient(server.url, intruder)(DELETE, { id: sent.conversation.id })).toEqual({ data: { deleteConversation: false } });
    expect(await userClient(server.url, intruder)(DELETE, { id: randomUUID() })).toEqual({ data: { deleteConversation: false } });
    expect(await userClient(server.url, owner)(CONVERSATION, { id: sent.conversation.id })).toEqual(before);
    const bad = await userClient(server.url, owner)(DELETE, { id: 'not an id!' });
    expect(bad.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  it('cancels its active runs first and ends live subscriptions to it with NOT_FOUND', async () => {
    const token = await tokenFor(`deleter-${randomUUID()}`);
    const as = userClient(slow.url, token);
    const sent = (await as(SEND, { input: { text: 'Hello there' } })).data.sendAgentMessage;
    const queued = (await as(SEND, { input: { text: 'And then?', conversationId: sent.conversation.id } })).data.sendAgentMessage;
    const client = wsClient(slow.url, token);
    clients.push(client);
    const recorder = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq });
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentStarted'), 'AgentStarted');

    expect(await as(DELETE, { id: sent.conversation.id })).toEqual({ data: { deleteConversation: true } });
    await recorder.untilEnded();
    expect(recorder.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    expect((await as(RUN, { id: sent.run.id })).data.run).toBeNull();
    expect((await as(RUN, { id: queued.run.id })).data.run).toBeNull();
    expect((await as(CONVERSATIONS)).data.conversations).toEqual([]);
  });
});
