import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import type { RunningServer } from '../../src/server.ts';
import type { StoredEvent } from '../../src/domain/events.ts';
import { createBackend } from '../../src/store/backends.ts';
import { EventRecorder, SEND, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { awaitRunEnd, expectGapless, expectRunInvariants, send, type SentRun } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const CANCEL = `mutation ($runId: ID!) { cancelAgentRun(runId: $runId) { id status finishedAt error { code } } }`;
const STATE = `query ($id: ID!) { conversation(id: $id) { lastSeq messages { id } activeRun { id status } runs { id status } } }`;

/** Runs of one conversation must not overlap: between a run's AgentStarted and its terminal event only its own events (and new user messages) appear. */
function expectNoInterleaving(events: AgentEvent[]) {
  let current: string | null = null;
  for (const event of events) {
    if (event.__typename === 'MessageCreated') continue;
    if (event.__typename === 'AgentStarted') {
      expect(current, `run ${event.runId} started while ${current} was running`).toBeNull();
      current = event.runId;
      continue;
    }
    expect(event.runId).toBe(current);
    if (isTerminal(event)) current = null;
  }
  expect(current).toBeNull();
}

/** The hold on each of the held agent's runs, by run id, made by whichever comes first: the run, or the test letting it go. */
const holds = new Map<string, { released: Promise<void>; release(): void }>();
function holdOf(runId: string) {
  let hold = holds.get(runId);
  if (!hold) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    hold = { released, release };
    holds.set(runId, hold);
  }
  return hold;
}

/** Streams a token, then runs until the test lets it finish (or it is stopped): a run that is surely still running. */
const held: AgentDefinition = {
  id: 'test.held',
  kind: 'LIAISON',
  pillar: null,
  name: 'Held',
  description: 'Runs until the test lets it finish.',
  async run(context) {
    await context.stream('Working');
    const stopped = new Promise<never>((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true }));
    await Promise.race([holdOf(context.runId).released, stopped]);
    await context.say('Done.');
  },
};

describe('runs in a conversation: policies, cancellation', () => {
  let server: RunningServer;
  let token: string;
  let gql: ReturnType<typeof userClient>;
  beforeAll(async () => {
    server = await startTestServer({}, { agents: [held] });
    token = await tokenFor('runner');
    gql = userClient(server.url, token);
  });
  afterAll(() => server.close());

  /** Starts a run that streams, then runs until `finish` lets it (or it is stopped); resolves once it has streamed. */
  async function startStreamingRun() {
    const run = await send(server.url, token, { text: 'Hello', target: { kind: 'LIAISON', agentId: held.id } });
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: run.conversationId, afterSeq: run.afterSeq });
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'a token');
    return { run, recorder, finish: () => holdOf(run.runId).release(), close: async () => (recorder.stop(), await client.dispose()) };
  }

  it('ENQUEUE runs queued messages one at a time, in order', async () => {
    const first = await startStreamingRun();
    const queued: SentRun[] = [];
    for (const text of ['second', 'third']) {
      queued.push(await send(server.url, token, { text, conversationId: first.run.conversationId }));
    }
    expect(queued.map((run) => run.status)).toEqual(['QUEUED', 'QUEUED']);
    const state = (await gql(STATE, { id: first.run.conversationId })).data.conversation;
    expect(state.activeRun).toEqual({ id: first.run.runId, status: 'RUNNING' });

    first.finish();
    const events = await first.recorder.untilTerminals(3);
    await first.close();
    expectGapless(events, 1);
    expectNoInterleaving(events);
    const startOrder = events.filter((event) => event.__typename === 'AgentStarted').map((event) => event.runId);
    expect(startOrder).toEqual([first.run.runId, ...queued.map((run) => run.runId)]);
    for (const run of [first.run, ...queued]) {
      expectRunInvariants(
        events.filter((event) => event.runId === run.runId),
        run,
      );
    }
    expect(events.filter(isTerminal).map((event) => event.__typename)).toEqual(['AgentCompleted', 'AgentCompleted', 'AgentCompleted']);
  });

  it('INTERRUPT cancels the active run, then runs the new one', async () => {
    const first = await startStreamingRun();
    const second = await send(server.url, token, {
      text: 'Never mind',
      conversationId: first.run.conversationId,
      onActiveRun: 'INTERRUPT',
    });
    const events = await first.recorder.untilTerminals(2);
    await first.close();
    const terminals = events.filter(isTerminal);
    expect(terminals.map((event) => [event.runId, event.__typename])).toEqual([
      [first.run.runId, 'AgentCancelled'],
      [second.runId, 'AgentCompleted'],
    ]);
    expectNoInterleaving(events);
    expectRunInvariants(
      events.filter((event) => event.runId === first.run.runId),
      first.run,
    );
    const runs = (await gql(STATE, { id: first.run.conversationId })).data.conversation.runs;
    expect(runs.map((run: { status: string }) => run.status)).toEqual(['CANCELLED', 'COMPLETED']);
  });

  it('REJECT fails with CONFLICT while a run is active and stores nothing', async () => {
    const first = await startStreamingRun();
    const before = (await gql(STATE, { id: first.run.conversationId })).data.conversation;
    const rejected = await gql(SEND, {
      input: { text: 'Me too', conversationId: first.run.conversationId, onActiveRun: 'REJECT', clientMessageId: 'reject-1' },
    });
    expect(rejected.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    expect(rejected.data).toBeNull();
    const after = (await gql(STATE, { id: first.run.conversationId })).data.conversation;
    expect(after.messages).toEqual(before.messages);
    const ids = (runs: { id: string }[]) => runs.map((run) => run.id);
    expect(ids(after.runs)).toEqual(ids(before.runs));
    first.finish();
    await first.recorder.untilTerminals(1);
    await first.close();
    // Once idle, the same send (and the same clientMessageId, which the failure released) goes through.
    const accepted = await send(server.url, token, {
      text: 'Me too',
      conversationId: first.run.conversationId,
      onActiveRun: 'REJECT',
      clientMessageId: 'reject-1',
    });
    expect(await awaitRunEnd(server.url, token, accepted.runId)).toBe('COMPLETED');
  });

  it('cancelAgentRun ends a running run with AgentCancelled as its last event', async () => {
    const first = await startStreamingRun();
    const cancelled = (await gql(CANCEL, { runId: first.run.runId })).data.cancelAgentRun;
    expect(cancelled).toMatchObject({ id: first.run.runId, status: 'CANCELLED' });
    expect(cancelled.finishedAt).toEqual(expect.any(String));
    const events = await first.recorder.untilTerminals(1);
    await first.close();
    expectRunInvariants(events, first.run);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentCancelled', reason: 'Cancelled by the user.' });
    // Nothing follows the terminal event, and the conversation takes the next message.
    const next = await send(server.url, token, { text: 'Again', conversationId: first.run.conversationId });
    expect(await awaitRunEnd(server.url, token, next.runId)).toBe('COMPLETED');
    const log = (await gql(`{ conversation(id: "${first.run.conversationId}") { events(first: 1000) { runId seq } } }`)).data.conversation
      .events as AgentEvent[];
    const cancelledSeq = events.at(-1)!.seq;
    expect(log.filter((event) => event.runId === first.run.runId).every((event) => event.seq <= cancelledSeq)).toBe(true);
  });

  it('cancelAgentRun ends a queued run at once; it takes its turn as an empty run', async () => {
    const first = await startStreamingRun();
    const queued = await send(server.url, token, { text: 'Later', conversationId: first.run.conversationId });
    const cancelled = (await gql(CANCEL, { runId: queued.runId })).data.cancelAgentRun;
    expect(cancelled.status).toBe('CANCELLED');
    first.finish();
    const events = await first.recorder.untilTerminals(2);
    await first.close();
    expectNoInterleaving(events);
    const queuedEvents = events.filter((event) => event.runId === queued.runId);
    expect(queuedEvents.map((event) => event.__typename)).toEqual(['MessageCreated', 'AgentStarted', 'AgentCancelled']);
    expect(events.filter(isTerminal).map((event) => event.__typename)).toEqual(['AgentCompleted', 'AgentCancelled']);
  });

  it('cancelAgentRun returns a finished run unchanged', async () => {
    const run = await send(server.url, token, { text: 'Hi' });
    expect(await awaitRunEnd(server.url, token, run.runId)).toBe('COMPLETED');
    const before = (await gql(`query ($id: ID!) { run(id: $id) { id status finishedAt } }`, { id: run.runId })).data.run;
    const after = (await gql(CANCEL, { runId: run.runId })).data.cancelAgentRun;
    expect(after).toMatchObject(before);
    expect(after.status).toBe('COMPLETED');
  });
});

describe('run timeout', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ AGENT_STEP_DELAY_MS: '50', RUN_TIMEOUT_MS: '200' });
  });
  afterAll(() => server.close());

  it('a run that exceeds RUN_TIMEOUT_MS fails with TIMEOUT, and the conversation goes on', async () => {
    const token = await tokenFor('slowpoke');
    const run = await send(server.url, token, { text: 'Hello' });
    const client = wsClient(server.url, token);
    const recorder = new EventRecorder(client, { conversationId: run.conversationId, afterSeq: run.afterSeq });
    const events = await recorder.untilTerminals(1);
    expectRunInvariants(events, run);
    expect(events.at(-1)).toMatchObject({ __typename: 'AgentFailed', error: { code: 'TIMEOUT', retryable: true } });
    const stored = (await userClient(server.url, token)(`query ($id: ID!) { run(id: $id) { status error { code } } }`, { id: run.runId })).data.run;
    expect(stored).toEqual({ status: 'FAILED', error: { code: 'TIMEOUT' } });
    const next = await send(server.url, token, { text: 'Hello', conversationId: run.conversationId });
    const both = await recorder.untilTerminals(2);
    recorder.stop();
    await client.dispose();
    expect(both.filter((event) => event.runId === next.runId).map((event) => event.__typename)).toContain('AgentStarted');
  });
});

describe("a completed run's reply", () => {
  /** For each AgentCompleted in the log: whether its reply was among the messages by then. */
  const replyStoredFirst: boolean[] = [];
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer(
      {},
      {
        // The backend the settings ask for, with each appended AgentCompleted checked against the
        // messages: appended to the log, or with the run's completion where that is one step.
        backend: async (config, logger) => {
          const backend = await createBackend(config, logger);
          const check = async (event: StoredEvent) => {
            if (event.type === 'AgentCompleted') replyStoredFirst.push((await backend.messages.get(event.message.id)) !== null);
          };
          const appendBatch = backend.events.appendBatch.bind(backend.events);
          backend.events.appendBatch = async (events, leaseEpoch) => {
            const stored = await appendBatch(events, leaseEpoch);
            for (const event of stored) await check(event);
            return stored;
          };
          const completeRun = backend.completeRun?.bind(backend);
          if (completeRun) {
            backend.completeRun = async (completion) => {
              const completed = await completeRun(completion);
              if (completed) await check(completed.event);
              return completed;
            };
          }
          return backend;
        },
      },
    );
  });
  afterAll(() => server.close());

  // The reply takes the seq of its AgentCompleted: were it stored after the event, a client that
  // reads the conversation on its AgentCompleted might not find it yet. The log stores both in one step.
  it('is among the messages once its AgentCompleted is in the log', async () => {
    const token = await tokenFor('replier');
    const sent = await send(server.url, token, { text: 'Hello' });
    expect(await awaitRunEnd(server.url, token, sent.runId)).toBe('COMPLETED');
    expect(replyStoredFirst).toEqual([true]);
  });
});
