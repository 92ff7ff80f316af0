/**
 * "A conversation belongs to the user (and tenant) that created it. Anyone else gets exactly what
 * they would get for an id that does not exist." Checked on every operation, for another user,
 * for the same sub in another tenant, and for the same sub with and without a tenant.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EVENTS, EventRecorder, SEND, tokenFor, userClient, wsClient, type GraphQLResponse } from '../support/clients.ts';
import { startTestServer } from '../support/server.ts';
import { awaitRunEnd } from '../support/runs.ts';
import { subscribeSse } from '../support/sse.ts';

interface Owned {
  token: string;
  conversationId: string;
  runId: string;
  messageId: string;
}

const CONVERSATION = /* GraphQL */ `
  query ($id: ID!) {
    conversation(id: $id) {
      id
      title
      lastSeq
      messages {
        id
      }
      runs {
        id
      }
      activeRun {
        id
      }
      events {
        seq
      }
    }
  }
`;
const RUN = 'query ($id: ID!) { run(id: $id) { id status conversationId } }';
const CANCEL = 'mutation ($runId: ID!) { cancelAgentRun(runId: $runId) { id status } }';

describe('ownership', () => {
  let server: RunningServer;

  /** Creates a conversation with one finished run, owned by the token's principal. */
  async function own(token: string, text = 'Hello there'): Promise<Owned> {
    const sent = await userClient(server.url, token)(SEND, { input: { text } });
    expect(sent.errors).toBeUndefined();
    const { conversation, run, message, afterSeq } = sent.data.sendAgentMessage;
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: conversation.id, afterSeq });
    await recorder.untilTerminals(1);
    recorder.stop();
    await client.dispose();
    // Its reply is stored after its AgentCompleted: the owner's view must not change under the checks.
    await awaitRunEnd(server.url, token, run.id);
    return { token, conversationId: conversation.id, runId: run.id, messageId: message.id };
  }

  /** What an agentEvents subscription ends with, for the given token and variables. */
  async function subscriptionOutcome(token: string, variables: { conversationId: string; afterSeq?: number }) {
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, variables);
    await recorder.untilEnded();
    await client.dispose();
    return { events: recorder.events, errors: recorder.errors };
  }

  /** The owner's view of its conversation, to prove that nothing another principal did changed it. */
  async function ownerView(owned: Owned) {
    const result = await userClient(server.url, owned.token)(CONVERSATION, { id: owned.conversationId });
    expect(result.errors).toBeUndefined();
    expect(result.data.conversation.id).toBe(owned.conversationId);
    const run = await userClient(server.url, owned.token)(RUN, { id: owned.runId });
    expect(run.data.run.id).toBe(owned.runId);
    return { conversation: result.data.conversation, run: run.data.run };
  }

  /** Every operation `intruder` can try on `owned`, each compared with the same one on an unused id. */
  async function expectInvisible(owned: Owned, intruder: string) {
    const gql = userClient(server.url, intruder);
    const before = await ownerView(owned);
    const unusedConversation = `unused-${randomUUID()}`;
    const unusedRun = randomUUID();

    const conversation = await gql(CONVERSATION, { id: owned.conversationId });
    expect(conversation).toEqual({ data: { conversation: null } });
    expect(conversation).toEqual(await gql(CONVERSATION, { id: unusedConversation }));

    const run = await gql(RUN, { id: owned.runId });
    expect(run).toEqual({ data: { run: null } });
    expect(run).toEqual(await gql(RUN, { id: unusedRun }));

    const list = await gql('{ conversations(first: 100) { id } }');
    expect(list.errors).toBeUndefined();
    expect(list.data.conversations.map((item: { id: string }) => item.id)).not.toContain(owned.conversationId);

    const cancel = await gql(CANCEL, { runId: owned.runId });
    expect(cancel.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    expect(cancel.data ?? null).toBeNull();
    expect(cancel).toEqual(await gql(CANCEL, { runId: unusedRun }));

    const send = await gql(SEND, { input: { text: 'Let me in', conversationId: owned.conversationId } });
    expect(send.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    expect(send.data ?? null).toBeNull();
    const replay = await gql(SEND, { input: { text: 'Let me in', conversationId: owned.conversationId, clientMessageId: 'intrude' } });
    expect(replay.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');

    // Without afterSeq, from the start, and from within the owner's log (which an unused id has not got).
    for (const afterSeq of [undefined, 0, 2]) {
      const variables = afterSeq === undefined ? {} : { afterSeq };
      const outcome = await subscriptionOutcome(intruder, { conversationId: owned.conversationId, ...variables });
      expect(outcome.events).toEqual([]);
      expect(outcome.errors?.[0]?.extensions?.['code'], `afterSeq ${String(afterSeq)}`).toBe('NOT_FOUND');
      expect(outcome, `afterSeq ${String(afterSeq)}`).toEqual(await subscriptionOutcome(intruder, { conversationId: unusedConversation, ...variables }));
    }

    // The same over SSE.
    const overSse = async (id: string) => {
      const subscription = await subscribeSse(server.url, intruder, EVENTS, { conversationId: id, afterSeq: 0 });
      const results = [];
      for await (const result of subscription.results) results.push(result);
      subscription.close();
      return results;
    };
    const sse = await overSse(owned.conversationId);
    expect(sse[0]?.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    expect(sse.some((result) => result.data?.agentEvents)).toBe(false);
    expect(sse).toEqual(await overSse(unusedConversation));

    // The owner's data is exactly as it was, and the intruder made no conversation of its own with that id.
    expect(await ownerView(owned)).toEqual(before);
    const after = await gql('{ conversations(first: 100) { id } }');
    expect(after.data.conversations.map((item: { id: string }) => item.id)).not.toContain(owned.conversationId);
  }

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it("hides user A's conversation and run from user B (same tenant) on every operation", async () => {
    const alice = await own(await tokenFor('alice', { tenantId: 'acme' }));
    await expectInvisible(alice, await tokenFor('bob', { tenantId: 'acme' }));
  });

  it('hides them from user B without a tenant', async () => {
    const alice = await own(await tokenFor('alice2'));
    await expectInvisible(alice, await tokenFor('bob2'));
  });

  it('treats the same sub in another tenant as another owner', async () => {
    const inAcme = await own(await tokenFor('shared-sub', { tenantId: 'acme' }));
    await expectInvisible(inAcme, await tokenFor('shared-sub', { tenantId: 'globex' }));
  });

  it('treats the same sub without a tenant as another owner than with one, both ways', async () => {
    const withTenant = await own(await tokenFor('shared-sub-2', { tenantId: 'acme' }));
    const withoutTenant = await own(await tokenFor('shared-sub-2'));
    await expectInvisible(withTenant, withoutTenant.token);
    await expectInvisible(withoutTenant, withTenant.token);
  });

  it('does not confuse a tenant id with a user id (sub "a" tid "b" vs sub "b" tid "a")', async () => {
    const ab = await own(await tokenFor('a', { tenantId: 'b' }));
    await expectInvisible(ab, await tokenFor('b', { tenantId: 'a' }));
  });

  it('lets the owner itself see everything (the checks above are not vacuous)', async () => {
    const token = await tokenFor('owner-check', { tenantId: 'acme' });
    const owned = await own(token);
    const gql = userClient(server.url, token);
    expect((await gql(CONVERSATION, { id: owned.conversationId })).data.conversation.id).toBe(owned.conversationId);
    expect((await gql(RUN, { id: owned.runId })).data.run.id).toBe(owned.runId);
    expect((await gql(CANCEL, { runId: owned.runId })).data.cancelAgentRun).toEqual({ id: owned.runId, status: 'COMPLETED' });
    const outcome = await (async () => {
      const client = wsClient(server.url, token);
      const recorder = new EventRecorder(client, { conversationId: owned.conversationId, afterSeq: 0 });
      const events = await recorder.untilTerminals(1);
      recorder.stop();
      await client.dispose();
      return events;
    })();
    expect(outcome[0]?.__typename).toBe('MessageCreated');
  });

  it('keeps clientMessageId per user: the same key from two users makes two runs', async () => {
    const key = `same-key-${randomUUID()}`;
    const principals = [
      await tokenFor('key-user-1', { tenantId: 'acme' }),
      await tokenFor('key-user-2', { tenantId: 'acme' }),
      await tokenFor('key-user-1', { tenantId: 'globex' }),
      await tokenFor('key-user-1'),
    ];
    const results: GraphQLResponse[] = [];
    for (const token of principals) results.push(await userClient(server.url, token)(SEND, { input: { text: 'Hello there', clientMessageId: key } }));
    for (const result of results) expect(result.errors).toBeUndefined();
    const runIds = results.map((result) => result.data.sendAgentMessage.run.id);
    const messageIds = results.map((result) => result.data.sendAgentMessage.message.id);
    const conversationIds = results.map((result) => result.data.sendAgentMessage.conversation.id);
    expect(new Set(runIds).size).toBe(principals.length);
    expect(new Set(messageIds).size).toBe(principals.length);
    expect(new Set(conversationIds).size).toBe(principals.length);

    // Each owner sees its own run, and a repeat by the same owner is still idempotent.
    for (const [index, token] of principals.entries()) {
      const gql = userClient(server.url, token);
      expect((await gql(RUN, { id: runIds[index] })).data.run.id).toBe(runIds[index]);
      const repeat = await gql(SEND, { input: { text: 'Hello there', clientMessageId: key } });
      expect(repeat.data.sendAgentMessage.run.id).toBe(runIds[index]);
      for (const [other, otherRun] of runIds.entries()) {
        if (other !== index) expect((await gql(RUN, { id: otherRun })).data.run).toBeNull();
      }
    }
  });
});

describe('ownership of a run that is still running', () => {
  let server: RunningServer;
  beforeAll(async () => {
    // Agents pause between steps for as long as the test runs: the run stays RUNNING until cancelled.
    server = await startTestServer({ AGENT_STEP_DELAY_MS: '600000' });
  });
  afterAll(() => server.close());

  it("does not let another user cancel, interrupt, reject against or append to A's active run", async () => {
    const aliceToken = await tokenFor('alice', { tenantId: 'acme' });
    const alice = userClient(server.url, aliceToken);
    const sent = await alice(SEND, { input: { text: 'Hello there' } });
    expect(sent.errors).toBeUndefined();
    const { conversation, run, afterSeq } = sent.data.sendAgentMessage;
    const client = wsClient(server.url, aliceToken);
    const recorder = new EventRecorder(client, { conversationId: conversation.id, afterSeq });
    // The guide thinks once, then pauses for as long as the test runs: from its thinking on, the
    // conversation holds still (wherever the run executes), so any change would be the intruders'.
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentThinking'), 'AgentThinking');
    const view = async () =>
      (await alice('query ($id: ID!) { conversation(id: $id) { lastSeq activeRun { id status } runs { id status } } }', { id: conversation.id })).data
        .conversation;
    const before = await view();
    expect(before.activeRun).toEqual({ id: run.id, status: 'RUNNING' });

    for (const intruderToken of [await tokenFor('bob', { tenantId: 'acme' }), await tokenFor('alice', { tenantId: 'globex' }), await tokenFor('alice')]) {
      const intruder = userClient(server.url, intruderToken);
      const cancel = await intruder(CANCEL, { runId: run.id });
      expect(cancel.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
      expect(cancel).toEqual(await intruder(CANCEL, { runId: randomUUID() }));
      for (const onActiveRun of ['ENQUEUE', 'INTERRUPT', 'REJECT']) {
        const send = await intruder(SEND, { input: { text: 'Me too', conversationId: conversation.id, onActiveRun } });
        // NOT_FOUND, never CONFLICT: that would tell the intruder the conversation exists and is busy.
        expect(send.errors?.[0]?.extensions?.['code'], onActiveRun).toBe('NOT_FOUND');
      }
      expect((await intruder(RUN, { id: run.id })).data.run).toBeNull();
    }
    expect(await view()).toEqual(before);

    // The owner still can: its cancel ends the run, which proves it was still running.
    const cancelled = await alice(CANCEL, { runId: run.id });
    expect(cancelled.data.cancelAgentRun).toEqual({ id: run.id, status: 'CANCELLED' });
    const events = await recorder.untilTerminals(1);
    expect(events.at(-1)?.__typename).toBe('AgentCancelled');
    recorder.stop();
    await client.dispose();
  });
});
