/**
 * Subscribers share the execution of each event (transport/shared-execution.ts); these check
 * that sharing never hands one subscriber what another asked for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { isTerminal, tokenFor, wsClient, type AgentEvent } from '../support/clients.ts';
import { send } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const SHAPED = /* GraphQL */ `
  subscription Shaped($conversationId: ID!, $afterSeq: Int, $withDelta: Boolean!) {
    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) {
      __typename seq
      ... on AgentToken { delta @include(if: $withDelta) }
    }
  }
`;

const PLAIN = /* GraphQL */ `
  subscription Plain($conversationId: ID!, $afterSeq: Int) {
    agentEvents(conversationId: $conversationId, afterSeq: $afterSeq) { __typename seq conversationId }
  }
`;

describe('shared execution of events across subscribers', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ AGENT_STEP_DELAY_MS: '1' });
  });
  afterAll(() => server.close());

  function collect(token: string, query: string, variables: Record<string, unknown>): Promise<AgentEvent[]> {
    const client = wsClient(server.url, token);
    const events: AgentEvent[] = [];
    return new Promise((resolve, reject) => {
      const stop = client.subscribe<{ agentEvents: AgentEvent }>(
        { query, variables },
        {
          next: ({ data, errors }) => {
            if (errors) return reject(new Error(JSON.stringify(errors)));
            events.push(data!.agentEvents);
            if (isTerminal(events.at(-1)!)) {
              stop();
              void client.dispose();
              resolve(events);
            }
          },
          error: reject,
          complete: () => undefined,
        },
      );
    });
  }

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
