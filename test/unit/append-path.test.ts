/**
 * What a streamed token costs on its way from an agent to a pushed subscriber, on the memory
 * backend, counted rather than timed: the promises made per token (async_hooks sees each one),
 * the calls of the log's append, and the Runtime's count of what it appended. Every layer that
 * only forwards an append (a wrapper around the log, an async function that only passes a token
 * on) adds promises per token, which is what these counts catch.
 */
import { createHook } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, expect, it } from 'vitest';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import { BUILT_IN_AGENTS } from '../../src/agents/index.ts';
import { AgentRegistry } from '../../src/agents/registry.ts';
import { TERMINAL_EVENT_TYPES, type StoredEvent } from '../../src/domain/events.ts';
import { conversationEvents } from '../../src/events/event-stream.ts';
import { PLATFORM_TOOLS } from '../../src/runtime/platform-tools.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { ToolRegistry } from '../../src/runtime/tools.ts';
import { createMemoryBackend } from '../../src/store/memory/index.ts';
import { MemoryEventLog } from '../../src/store/memory/event-log.ts';
import { BACKEND_SETTINGS, DEFAULT_RETENTION, helloSend } from '../contract/worlds.ts';

/** Streams as many deltas as its message says, one per macrotask, as a model's reply comes in. */
const tokensAgent: AgentDefinition = {
  id: 'test.tokens',
  kind: 'LIAISON',
  pillar: null,
  name: 'Tokens',
  description: 'Streams N deltas.',
  async run(context) {
    const count = Number(context.input.text);
    for (let index = 0; index < count; index += 1) {
      await context.stream('word ');
      await nextTurn();
    }
  },
};

const backend = createMemoryBackend(DEFAULT_RETENTION, BACKEND_SETTINGS);
const appended: StoredEvent[] = [];
const runtime = new Runtime({
  backend,
  agents: new AgentRegistry([...BUILT_IN_AGENTS, tokensAgent]),
  tools: new ToolRegistry(PLATFORM_TOOLS),
  runTimeoutMs: 60_000,
  stepDelayMs: 0,
  historyMessages: 200,
  logger: pino({ level: 'silent' }),
  leaseMs: 60_000,
  sweepIntervalMs: 60_000,
  inputTimeoutMs: 60_000,
  onAppended: (events) => appended.push(...events),
});
afterAll(() => runtime.shutdown());

/** Sends `tokens` to the tokens agent in a new conversation, and waits until a pushed subscriber has the run's terminal event. */
async function watchedRun(tokens: number): Promise<StoredEvent[]> {
  const conversationId = randomUUID();
  const delivered: StoredEvent[] = [];
  let ended!: () => void;
  const over = new Promise<void>((resolve) => (ended = resolve));
  const subscription = conversationEvents(backend.events, conversationId, { afterSeq: 0, bufferLimit: 1000 }, null).push({
    event(event) {
      delivered.push(event);
      if (TERMINAL_EVENT_TYPES.has(event.type)) ended();
    },
    failed: (error) => expect.fail(String(error)),
    completed: () => undefined,
  });
  const { run, lease } = runtime.draft({
    runId: randomUUID(),
    conversationId,
    owner: { userId: 'someone', tenantId: null },
    agentId: tokensAgent.id,
    userMessageId: randomUUID(),
    input: { text: String(tokens), surface: 'HOME', projectId: null, context: null },
  });
  expect((await backend.sends.commit(helloSend(run, lease))).outcome).toBe('stored');
  await runtime.accepted(run);
  await over;
  subscription.stop();
  return delivered;
}

/** The promises made while `work` runs (by anything in the process: nothing else runs here). */
async function promisesMadeBy(work: () => Promise<unknown>): Promise<number> {
  let made = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'PROMISE') made += 1;
    },
  }).enable();
  try {
    await work();
  } finally {
    hook.disable();
  }
  return made;
}

it("makes at most five promises per streamed token from the agent to a pushed subscriber, three of them the agent's own", async () => {
  await watchedRun(5); // the first run loads and compiles what every run goes through
  const tokens = 200;
  // The fewest of three tries: the test runner's own work may add a promise now and then.
  const perToken: number[] = [];
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const bare = await promisesMadeBy(() => watchedRun(0));
    const streamed = await promisesMadeBy(() => watchedRun(tokens));
    perToken.push((streamed - bare) / tokens);
  }
  // Per token: the agent's own three (its two awaits and its wait for the next macrotask) and the
  // two of the batch it is appended in (the log's append and the one `then` that waits for it).
  // Each forwarding layer in front of the log, or async step passing a token on, adds more (there
  // were fourteen, with three layers around the log and four async steps on the way to it).
  expect(Math.min(...perToken)).toBeLessThanOrEqual(5);
});

it("hands the Runtime the memory store's own log, and counts every event the Runtime appends once, as it is stored", async () => {
  expect(backend.events).toBeInstanceOf(MemoryEventLog);
  appended.length = 0;
  const delivered = await watchedRun(20);
  // All but the user's message (stored by the send, counted there) are the Runtime's.
  expect(delivered.map((event) => event.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
  expect(appended).toEqual(delivered.slice(1));
});
