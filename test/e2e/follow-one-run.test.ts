/**
 * agentEvents with runId: one run's events only, and the subscription completes after its
 * terminal event (over graphql-ws and over SSE), so that a script following a run ends by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EVENT_FIELDS, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { expectRunInvariants, send, type SentRun } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';
import { subscribeSse } from '../support/sse.ts';

const FOLLOW_RUN = /* GraphQL */ `
  subscription FollowRun($conversationId: ID!, $afterSeq: Int, $runId: ID) {
    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq, runId: $runId) { ${EVENT_FIELDS} }
  }
`;

type Outcome = { events: AgentEvent[]; errors: unknown[] };

/** Subscribes over graphql-ws and resolves only when the server completes the subscription. */
async function followToCompletion(url: string, token: string, variables: Record<string, unknown>, onEvent?: (event: AgentEvent) => void) {
  const client = wsClient(url, token);
  const outcome: Outcome = { events: [], errors: [] };
  try {
    for await (const result of client.iterate<{ agentEvents: AgentEvent }>({ query: FOLLOW_RUN, variables })) {
      if (result.errors) outcome.errors.push(...result.errors);
      if (result.data?.agentEvents) {
        outcome.events.push(result.data.agentEvents);
        onEvent?.(result.data.agentEvents);
      }
    }
  } catch (error) {
    outcome.errors.push(...(Array.isArray(error) ? error : [error]));
  } finally {
    await client.dispose();
  }
  return outcome;
}

const runVariables = (sent: SentRun, afterSeq: number | null = sent.afterSeq) => ({
  conversationId: sent.conversationId,
  afterSeq,
  runId: sent.runId,
});

describe('following one run', () => {
  let fast: RunningServer;
  let slow: RunningServer;
  let token: string;
  beforeAll(async () => {
    [fast, slow] = await Promise.all([startTestServer(), startTestServer({ AGENT_STEP_DELAY_MS: '600000' })]);
    token = await tokenFor('run-follower');
  });
  afterAll(async () => {
    await Promise.all([fast?.close(), slow?.close()]);
  });

  it("delivers only that run's events and completes after its terminal event, with another run queued behind it", async () => {
    const first = await send(fast.url, token, { text: 'Hello there' });
    const second = await send(fast.url, token, { text: 'Hello again', conversationId: first.conversationId });
    const [one, two] = await Promise.all([followToCompletion(fast.url, token, runVariables(first)), followToCompletion(fast.url, token, runVariables(second))]);
    for (const [outcome, sent] of [
      [one, first],
      [two, second],
    ] as const) {
      expect(outcome.errors).toEqual([]);
      expectRunInvariants(outcome.events, sent);
      expect(outcome.events.at(-1)?.__typename).toBe('AgentCompleted');
    }
  });

  it('replays a finished run from afterSeq and completes; completes at once when its end is at or before afterSeq, or without afterSeq', async () => {
    const sent = await send(fast.url, token, { text: 'Hello there' });
    const live = await followToCompletion(fast.url, token, runVariables(sent));
    const lastSeq = live.events.at(-1)!.seq;

    const replayed = await followToCompletion(fast.url, token, runVariables(sent));
    expect(replayed).toEqual(live);
    const fromMiddle = await followToCompletion(fast.url, token, runVariables(sent, live.events[2]!.seq));
    expect(fromMiddle.events).toEqual(live.events.slice(3));
    expect(await followToCompletion(fast.url, token, runVariables(sent, lastSeq))).toEqual({ events: [], errors: [] });
    expect(await followToCompletion(fast.url, token, runVariables(sent, null))).toEqual({ events: [], errors: [] });
  });

  it('completes after AgentCancelled when the run is cancelled', async () => {
    const sent = await send(slow.url, token, { text: 'Hello there' });
    const outcome = await followToCompletion(slow.url, token, runVariables(sent), (event) => {
      if (event.__typename === 'AgentStarted') {
        void userClient(slow.url, token)('mutation ($id: ID!) { cancelAgentRun(runId: $id) { status } }', { id: sent.runId });
      }
    });
    expect(outcome.errors).toEqual([]);
    expect(outcome.events.at(-1)).toMatchObject({ __typename: 'AgentCancelled', runId: sent.runId });
    expect(outcome.events.filter(isTerminal)).toHaveLength(1);
  });

  it('completes over SSE, as curl would follow it', async () => {
    const sent = await send(fast.url, token, { text: 'Hello there' });
    const subscription = await subscribeSse<{ agentEvents: AgentEvent }>(fast.url, token, FOLLOW_RUN, runVariables(sent));
    const events: AgentEvent[] = [];
    for await (const result of subscription.results) {
      expect(result.errors).toBeUndefined();
      events.push(result.data!.agentEvents);
    }
    expectRunInvariants(events, sent);
  });

  it('answers NOT_FOUND for a run of another conversation and BAD_USER_INPUT for a malformed runId', async () => {
    const mine = await send(fast.url, token, { text: 'Hello there' });
    const other = await send(fast.url, token, { text: 'Hello there' });
    const foreign = await followToCompletion(fast.url, token, { ...runVariables(mine), runId: other.runId });
    expect(foreign.events).toEqual([]);
    expect(foreign.errors).toMatchObject([{ extensions: { code: 'NOT_FOUND' } }]);
    const malformed = await followToCompletion(fast.url, token, { ...runVariables(mine), runId: 'not an id!' });
    expect(malformed.errors).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT' } }]);
  });
});
