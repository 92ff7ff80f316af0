/**
 * What a send and its run cost on the Redis backend (REDIS_URL alone), in commands sent to
 * Redis: each is a round trip that someone waits for. Counted by the gateway itself
 * (agent_gateway_redis_commands_total), for one unwatched send and its whole run: the send, the
 * run's start, its events, its end and the queue moving on. The bounds are what the code needs
 * today: a change that adds a round trip to this path fails here and has to say why.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import type { RunningServer } from '../../src/server.ts';
import { tokenFor, userClient } from '../support/clients.ts';
import { metricValue } from '../support/metrics.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { startTestServer } from '../support/server.ts';

const COMMANDS = 'agent_gateway_redis_commands_total';
const TOKENS = 200;
const SEND_FOR_RUN_ID = `mutation ($input: SendAgentMessageInput!) { sendAgentMessage(input: $input) { run { id } } }`;

/** Streams as many word tokens as its message asks ("tokens N"), as the benchmarks' agent does. */
const tokensAgent: AgentDefinition = {
  id: 'test.tokens',
  kind: 'LIAISON',
  pillar: null,
  name: 'Tokens',
  description: 'Streams N word tokens.',
  async run(context) {
    const count = Number(/tokens (\d+)/.exec(context.input.text)?.[1] ?? 0);
    await context.say(Array.from({ length: count }, (_, index) => `t${index} `).join(''));
  },
};

describe('Redis round trips of a send and its run', () => {
  let redis: TestRedis;
  let token: string;

  /** A gateway on the Redis backend alone that executes its runs itself, and sweeps for none meanwhile. */
  const startGateway = () =>
    startTestServer({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: `agw-trips-${randomUUID()}:`, RUN_SWEEP_INTERVAL_MS: '3600000' }, { agents: [tokensAgent] });

  /** Runs a message of `tokens` tokens to its end on a gateway of its own; the Redis commands the gateway sent for it. */
  async function commandsOfOneRun(tokens: number): Promise<number> {
    const server = await startGateway();
    try {
      const before = await metricValue(server.url, COMMANDS);
      await sendTokens(server, tokens);
      await ended(server);
      // Waits for the run's executor to finish (the run counts as completed a little before its
      // terminal event is stored) and for its queue to move on: their last commands count too.
      await server.gateway.runtime.shutdown(60_000);
      return (await metricValue(server.url, COMMANDS)) - before;
    } finally {
      await server.close();
    }
  }

  /** Sends as a client that wants only the run's id back (the payload's other fields may cost reads of their own). */
  async function sendTokens(server: RunningServer, tokens: number): Promise<void> {
    const input = { text: `tokens ${tokens}`, target: { kind: 'LIAISON', agentId: tokensAgent.id } };
    const response = await userClient(server.url, token)(SEND_FOR_RUN_ID, { input });
    expect(response.errors).toBeUndefined();
  }

  /** Resolves once the gateway has counted a completed run (read from its metrics, which send nothing to Redis). */
  async function ended(server: RunningServer): Promise<void> {
    while ((await metricValue(server.url, 'agent_gateway_runs_total', { status: 'COMPLETED' })) < 1);
  }

  beforeAll(async () => {
    redis = await startRedis();
    token = await tokenFor('round-trips');
    // Redis learns the scripts once (a first EVALSHA falls back to EVAL): not what a run costs.
    const warm = await startGateway();
    await sendTokens(warm, 3);
    await ended(warm);
    await warm.close();
  });
  afterAll(() => redis?.stop());

  it('a send and its run without tokens', async () => {
    const commands = await commandsOfOneRun(0);
    expect(commands).toBeGreaterThan(0);
    // The send (its rate window, then one script) and the run: its start under the queue's lock,
    // its history, its AgentStarted and terminal event, its end, and the queue moving on.
    expect(commands).toBeLessThanOrEqual(20);
  });

  // Tokens go out in batches (one script each) as fast as Redis answers: at worst one per token.
  it(`a send and its run per token, over ${TOKENS} tokens`, async () => {
    const bare = await commandsOfOneRun(0);
    const streamed = await commandsOfOneRun(TOKENS);
    expect((streamed - bare) / TOKENS).toBeLessThanOrEqual(1);
  });
});
