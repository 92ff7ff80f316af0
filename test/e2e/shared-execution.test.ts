/**
 * Subscribers share the execution of each event (transport/fan-out/shared-execution.ts): these check that
 * sharing happens and runs the compiled selection (counted by the gateway's metrics), that it never hands one subscriber what
 * another asked for, that what is shared is released with its last subscriber, and that a subscriber
 * alone in following its conversation keeps nothing for others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { metricValue } from '../support/metrics.ts';
import { RawGraphQLSocket } from '../support/raw-ws.ts';
import { awaitRunEnd, send } from '../support/runs.ts';
import { subscribeSse } from '../support/sse.ts';
import { awaitActiveSubscriptions, startTestServer } from '../support/server.ts';

const SHAPED = /* GraphQL */ `
  subscription Shaped($conversationId: ID!, $afterSeq: Int, $withDelta: Boolean!) {
    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) {
      __typename
      seq
      ... on AgentToken {
        delta @include(if: $withDelta)
      }
    }
  }
`;

const PLAIN = /* GraphQL */ `
  subscription Plain($conversationId: ID!, $afterSeq: Int) {
    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) {
      __typename
      seq
      conversationId
    }
  }
`;

describe('shared execution of events across subscribers', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ AGENT_STEP_DELAY_MS: '1' });
  });
  afterAll(() => server.close());

  /** Follows one run to its terminal event; the subscription stays open until `close`. */
  function subscribe(token: string, query: string, variables: Record<string, unknown>) {
    const client = wsClient(server.url, token);
    const events: AgentEvent[] = [];
    let stop = () => {};
    const terminal = new Promise<AgentEvent[]>((resolve, reject) => {
      stop = client.subscribe<{ agentEvents: AgentEvent }>(
        { query, variables },
        {
          next: ({ data, errors }) => {
            if (errors) return reject(new Error(JSON.stringify(errors)));
            events.push(data!.agentEvents);
            if (isTerminal(events.at(-1)!)) resolve(events);
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
    const close = async () => {
      stop();
      await client.dispose();
    };
    return { terminal, close };
  }

  /** Subscribes all at once, and closes them only once every one has its run: sharing spans them all. */
  async function collectAll(token: string, subscriptions: { query: string; variables: Record<string, unknown> }[]) {
    const open = subscriptions.map(({ query, variables }) => subscribe(token, query, variables));
    try {
      return await Promise.all(open.map((subscription) => subscription.terminal));
    } finally {
      await Promise.all(open.map((subscription) => subscription.close()));
    }
  }

  const collect = async (token: string, query: string, variables: Record<string, unknown>) => (await collectAll(token, [{ query, variables }]))[0]!;

  const metric = (name: string) => metricValue(server.url, name);
  const executions = () => metric('agent_gateway_event_executions_total');
  const compiledExecutions = () => metric('agent_gateway_compiled_event_executions_total');

  it('executes each event once for every subscriber of the same document and variables', async () => {
    const token = await tokenFor('many-subscribers');
    const first = await send(server.url, token, { text: 'Hello' });
    await awaitRunEnd(server.url, token, first.runId);
    const { lastSeq } = (await userClient(server.url, token)(`query ($id: ID!) { conversation(id: $id) { lastSeq } }`, { id: first.conversationId })).data
      .conversation;
    const before = await executions();
    const compiledBefore = await compiledExecutions();
    // All six follow the conversation before its next run starts: each of its events is shared by all.
    const open = Array.from({ length: 6 }, (_, index) =>
      // An afterSeq is an argument of the subscribe field: it does not shape events, so it shares too.
      subscribe(token, PLAIN, { conversationId: first.conversationId, ...(index % 2 === 0 && { afterSeq: lastSeq }) }),
    );
    await awaitActiveSubscriptions(server, 6);
    await send(server.url, token, { text: 'Hello again', conversationId: first.conversationId });
    const received = await Promise.all(open.map((subscription) => subscription.terminal));
    await Promise.all(open.map((subscription) => subscription.close()));
    const events = received[0]!;
    expect(received.every((each) => each.length === events.length && each.length > 0)).toBe(true);
    expect((await executions()) - before).toBe(events.length);
    // The selection's compiled form answered every one of them, none fell back to graphql-js.
    expect((await compiledExecutions()) - compiledBefore).toBe(events.length);
  });

  it('shares each execution between WebSocket subscribers (served without envelop) and SSE ones (served through it)', async () => {
    const token = await tokenFor('both-transports');
    const first = await send(server.url, token, { text: 'Hello' });
    await awaitRunEnd(server.url, token, first.runId);
    const { lastSeq } = (await userClient(server.url, token)(`query ($id: ID!) { conversation(id: $id) { lastSeq } }`, { id: first.conversationId })).data
      .conversation;
    const variables = { conversationId: first.conversationId, afterSeq: lastSeq };
    // The earlier tests' subscriptions are gone, so that the count below is of these three alone.
    await awaitActiveSubscriptions(server, 0);
    const before = await executions();
    // All three follow the conversation before its next run starts: each of its events is shared
    // by all. (Opened while a run streamed, as they were, the first one alone had the run's first
    // events executed for it alone and kept for nobody, and the others executed them again: 42
    // executions for 40 events, once in a full suite.)
    const sse = await subscribeSse<{ agentEvents: AgentEvent }>(server.url, token, PLAIN, variables);
    const overSse = (async () => {
      const events: AgentEvent[] = [];
      for await (const { data } of sse.results) {
        events.push(data!.agentEvents);
        if (isTerminal(events.at(-1)!)) break;
      }
      sse.close();
      return events;
    })();
    const overWs = [subscribe(token, PLAIN, variables), subscribe(token, PLAIN, variables)];
    await awaitActiveSubscriptions(server, 3);
    await send(server.url, token, { text: 'Hello again', conversationId: first.conversationId });
    const [events, alike] = await Promise.all(overWs.map((subscription) => subscription.terminal));
    await Promise.all(overWs.map((subscription) => subscription.close()));
    expect(alike).toEqual(events);
    expect(await overSse).toEqual(events);
    expect((await executions()) - before).toBe(events!.length);
  });

  it('never shares between different selections or different selection variables', async () => {
    const token = await tokenFor('different-shapes');
    const sent = await send(server.url, token, { text: 'Hello' });
    const before = await executions();
    const variables = { conversationId: sent.conversationId, afterSeq: sent.afterSeq };
    const [plain, withDelta, withoutDelta] = await collectAll(token, [
      { query: PLAIN, variables },
      { query: SHAPED, variables: { ...variables, withDelta: true } },
      { query: SHAPED, variables: { ...variables, withDelta: false } },
    ]);
    expect(plain!.length).toBe(withDelta!.length);
    expect(withoutDelta!.length).toBe(withDelta!.length);
    expect((await executions()) - before).toBe(3 * plain!.length);
  });

  it("frames each subscriber's copy of a shared result with its own operation id", async () => {
    const token = await tokenFor('raw-sharers');
    const sent = await send(server.url, token, { text: 'Hello' });
    const variables = { conversationId: sent.conversationId, afterSeq: sent.afterSeq };
    const framesOf = async (operationId: string) => {
      const socket = new RawGraphQLSocket(server.url);
      await socket.init(token);
      socket.sendJson({ id: operationId, type: 'subscribe', payload: { query: PLAIN, variables } });
      const frames: any[] = [];
      while (!['AgentCompleted', 'AgentFailed'].includes(frames.at(-1)?.payload?.data?.agentEvents?.__typename)) {
        frames.push(await socket.nextMessage());
      }
      socket.close();
      return frames;
    };
    const [first, second] = await Promise.all([framesOf('first'), framesOf('a-much-longer-operation-id')]);
    expect(first.every((frame) => frame.id === 'first' && frame.type === 'next')).toBe(true);
    expect(second.every((frame) => frame.id === 'a-much-longer-operation-id' && frame.type === 'next')).toBe(true);
    expect(second.map((frame) => frame.payload)).toEqual(first.map((frame) => frame.payload));
    expect(first[0].payload.data.agentEvents).toMatchObject({ __typename: 'MessageCreated', conversationId: sent.conversationId });
  });

  it('keeps no result for a subscriber alone in following its conversation, and still executes each event once', async () => {
    const token = await tokenFor('alone');
    // What earlier tests' subscribers shared is released once the server has seen them go.
    await expect.poll(() => metric('agent_gateway_shared_event_results')).toBe(0);
    const sent = await send(server.url, token, { text: 'Hello' });
    const before = await executions();
    const alone = subscribe(token, PLAIN, { conversationId: sent.conversationId, afterSeq: sent.afterSeq });
    const events = await alone.terminal;
    // Still subscribed: a result kept for others would show here until its last subscriber left.
    expect(await metric('agent_gateway_shared_event_results')).toBe(0);
    expect((await executions()) - before).toBe(events.length);
    await alone.close();
  });

  it('releases the shared results of documents once their last subscriber has left', async () => {
    const token = await tokenFor('opens-and-closes');
    const sent = await send(server.url, token, { text: 'Hello' });
    const variables = { conversationId: sent.conversationId, afterSeq: sent.afterSeq };
    // Distinct documents, as a client sending one-off queries would open.
    const documents = [1, 2, 3].map((n) => PLAIN.replace('__typename', `__typename alias${n}: seq`));
    const received = await collectAll(
      token,
      documents.map((query) => ({ query, variables })),
    );
    expect(received.every((events) => events.length > 2)).toBe(true);
    await expect.poll(() => metric('agent_gateway_shared_event_results')).toBe(0);
  });

  it('gives each subscriber the selection its own variables shape, and its own field arguments', async () => {
    const token = await tokenFor('sharer');
    const first = await send(server.url, token, { text: 'Hello' });
    const second = await send(server.url, token, { text: 'Hello again' });
    const [withDelta, withoutDelta, laterStart, otherConversation] = await Promise.all([
      collect(token, SHAPED, { conversationId: first.conversationId, afterSeq: first.afterSeq, withDelta: true }),
      collect(token, SHAPED, { conversationId: first.conversationId, afterSeq: first.afterSeq, withDelta: false }),
      collect(token, SHAPED, { conversationId: first.conversationId, afterSeq: first.afterSeq + 1, withDelta: true }),
      collect(token, PLAIN, { conversationId: second.conversationId, afterSeq: second.afterSeq }),
    ]);
    const tokens = (events: AgentEvent[]) => events.filter((event) => event.__typename === 'AgentToken');
    expect(tokens(withDelta).length).toBeGreaterThan(0);
    expect(tokens(withDelta).every((event) => typeof event.delta === 'string')).toBe(true);
    expect(tokens(withoutDelta).length).toBe(tokens(withDelta).length);
    expect(tokens(withoutDelta).every((event) => !('delta' in event))).toBe(true);
    expect(laterStart).toEqual(withDelta.filter((event) => event.seq > first.afterSeq + 1));
    expect(otherConversation.every((event) => event.conversationId === second.conversationId)).toBe(true);
  });
});
