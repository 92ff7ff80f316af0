/**
 * Ours: the gateway itself (memory backend, Redis with REDIS_URL, PostgreSQL and Redis with DATABASE_URL too), delivered through the
 * whole path (log, follower, shared execution, graphql-ws). Events are published through the
 * appender a run emits its events through (one per conversation, as one run per conversation
 * would), so batching of a run's appends counts here as it does in a run. It also measures what
 * a run costs as its conversation grows.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga } from 'graphql-yoga';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { followConversation } from '../../src/events/follow.ts';
import { TERMINAL_EVENT_TYPES } from '../../src/domain/events.ts';
import { RunAppender } from '../../src/runtime/run-appender.ts';
import { startServer } from '../../src/server.ts';
import { schema, type GraphQLContext } from '../../src/schema/index.ts';
import { createContext } from '../../src/transport/graphql/context.ts';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import { RUN_DELTA, deltaFor } from '../event.ts';
import { serveBench } from './common.ts';

export const BENCH_USER = 'bench';
/** The runs benchmark's agent: `tokens N` streams N deltas, one per macrotask, as a model's reply comes in. */
export const TOKENS_AGENT = 'bench.tokens';
const owner = { userId: BENCH_USER, tenantId: null };

const config = loadConfig({
  NODE_ENV: 'test',
  PORT: '0',
  AUTH_JWT_SECRET: process.env['BENCH_SECRET']!,
  AGENT_STEP_DELAY_MS: '0',
  SEND_RATE_LIMIT: '100000000',
  // The runs benchmark queues a conversation's runs all at once when nobody watches them.
  MAX_QUEUED_RUNS_PER_CONVERSATION: '100000',
  // Every bench subscriber is one user: the per-user socket limit would refuse all but 20.
  WS_MAX_SOCKETS_PER_USER: '1000000',
  LOG_LEVEL: 'silent',
  REDIS_URL: process.env['REDIS_URL'],
  // Two of ours on one Redis at once (the latency windows) must not share their keys.
  REDIS_KEY_PREFIX: process.env['REDIS_KEY_PREFIX'],
  REDIS_CLUSTER_NODES: process.env['REDIS_CLUSTER_NODES'],
  DATABASE_URL: process.env['DATABASE_URL'],
});
const tokensAgent: AgentDefinition = {
  id: TOKENS_AGENT,
  kind: 'LIAISON',
  pillar: null,
  name: 'Tokens',
  description: 'Streams N word deltas, one per macrotask.',
  async run(context) {
    const count = Number(/tokens (\d+)/.exec(context.input.text)?.[1] ?? 0);
    for (let index = 0; index < count; index += 1) {
      await context.stream(RUN_DELTA);
      await new Promise((resolve) => setImmediate(resolve));
    }
  },
};
const server = await startServer(config, pino({ level: 'silent' }), { agents: [tokensAgent] });
const { backend, conversations } = server.gateway;

/** Sends one message and waits for its run's terminal event. */
async function runOnce(conversationId: string, text: string): Promise<void> {
  const sent = await conversations.send(owner, { text, conversationId });
  const controller = new AbortController();
  const events = followConversation(backend.events, conversationId, { afterSeq: sent.afterSeq, bufferLimit: 1000, signal: controller.signal });
  for await (const event of events) {
    if (event.runId === sent.run.id && TERMINAL_EVENT_TYPES.has(event.type)) break;
  }
  controller.abort();
}

/** The bench's "run" of each conversation. */
const appenders = new Map<string, RunAppender>();

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

serveBench({
  url: server.url.replace(/^http/, 'ws') + '/graphql',
  async prepare(conversationIds) {
    const now = new Date().toISOString();
    for (const id of conversationIds) {
      await backend.conversations.createIfAbsent({ id, owner, title: null, createdAt: now, updatedAt: now });
    }
  },
  // A publish answers once its event is queued: the appenders store it afterwards.
  async settle() {
    await Promise.all([...appenders.values()].map((appender) => appender.flush()));
  },
  publish(conversationId) {
    let appender = appenders.get(conversationId);
    if (!appender) {
      appender = new RunAppender(backend.events);
      appenders.set(conversationId, appender);
    }
    return appender.emit({ type: 'AgentToken', conversationId, runId: 'bench-run', agentId: 'guide', delta: deltaFor(conversationId) });
  },
  handlers: {
    /** A plain yoga with the gateway's schema and context on a port of its own, for bench/requests.ts: what our plugins and routes add. */
    async plainYoga() {
      const yoga = createYoga<object, GraphQLContext>({
        schema,
        logging: false,
        context: ({ request }) => createContext(server.gateway, () => server.gateway.auth.authenticate(request.headers.get('authorization'))),
      });
      const plain = createServer(yoga);
      await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    },
    /** Server CPU per run for the first `sample` runs of a conversation and for its last `sample` of `count`. */
    async runs(args: { count: number; sample: number }) {
      const conversationId = `history-${Date.now()}`;
      let first = 0;
      let last = 0;
      for (let run = 1; run <= args.count; run += 1) {
        const before = cpuMs();
        await runOnce(conversationId, `Message ${run}: tell me about the platform`);
        const spent = cpuMs() - before;
        if (run <= args.sample) first += spent;
        if (run > args.count - args.sample) last += spent;
      }
      return { firstMsPerRun: first / args.sample, lastMsPerRun: last / args.sample };
    },
  },
});
