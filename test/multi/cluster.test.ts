/**
 * Three gateway processes on one Redis behave as one service: what is sent through one streams
 * through another, ids and seqs hold across them, a cancel reaches the run wherever it executes,
 * a Redis outage is survived, and a run whose instance is killed still ends.
 *
 * A executes its runs slowly (a pause between steps), so that there is time to act on a run
 * while it streams; B and C run at full speed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRecorder, SEND, isTerminal, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { startRedis, type TestRedis } from '../support/redis-server.ts';
import { CANCEL, CONVERSATION, CONVERSATIONS, RUN, clusterEnv, startInstance, waitForReadiness, type Instance } from './support.ts';

type Gql = ReturnType<typeof userClient>;

describe('three instances on one Redis', () => {
  let redis: TestRedis;
  let A: Instance;
  let B: Instance;
  let C: Instance;
  const clients: ReturnType<typeof wsClient>[] = [];

  beforeAll(async () => {
    // With persistence, so that the outage test's data survives Redis being killed.
    redis = await startRedis({ persistent: true });
    const env = clusterEnv(redis.url);
    [A, B, C] = await Promise.all([startInstance('A', { ...env, AGENT_STEP_DELAY_MS: '40' }), startInstance('B', env), startInstance('C', env)]);
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([A, B, C].filter(Boolean).map((instance) => instance.process.kill()));
    await redis?.stop();
    // MULTI_LOG_LEVEL=info (or debug) shows what each instance logged.
    if (process.env['MULTI_LOG_LEVEL']) for (const { name, process: child } of [A, B, C]) console.log(`--- ${name}\n${child.output()}`);
  });

  const subscribe = (instance: Instance, token: string, conversationId: string, afterSeq: number) => {
    const client = wsClient(instance.url, token);
    clients.push(client);
    return new EventRecorder(client, { conversationId, afterSeq });
  };

  const send = async (gql: Gql, input: Record<string, unknown>) => {
    const result = await gql(SEND, { input });
    expect(result.errors).toBeUndefined();
    return result.data.sendAgentMessage as {
      conversation: { id: string };
      message: { id: string; seq: number };
      run: { id: string; status: string };
      afterSeq: number;
    };
  };

  /** One whole run: AgentStarted first, one terminal last, tokens that add up to the reply. */
  const expectWholeRun = (events: AgentEvent[], runId: string) => {
    const own = events.filter((event) => event.runId === runId);
    expect(own[0]?.__typename).toBe('MessageCreated');
    expect(own[1]?.__typename).toBe('AgentStarted');
    expect(own.filter(isTerminal)).toHaveLength(1);
    const terminal = own.at(-1)!;
    expect(isTerminal(terminal)).toBe(true);
    if (terminal.__typename === 'AgentCompleted') {
      const reply = own
        .filter((event) => event.__typename === 'AgentToken')
        .map((event) => event['delta'])
        .join('');
      expect(reply).toBe(terminal['message'].text);
      expect(reply.length).toBeGreaterThan(0);
    }
    return terminal;
  };

  const expectGapless = (events: AgentEvent[], from: number) => expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => from + 1 + index));

  it('streams a run sent through A whole through B', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const sent = await send(userClient(A.url, token), { text: 'Hello there' });
    const recorder = subscribe(B, token, sent.conversation.id, sent.afterSeq);
    const events = await recorder.untilTerminals(1);
    expectGapless(events, sent.afterSeq);
    expect(expectWholeRun(events, sent.run.id).__typename).toBe('AgentCompleted');
    recorder.stop();
  });

  it('delivers live to a subscriber on B what is sent through C, and serves history and ownership through B', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const viaC = userClient(C.url, token);
    const viaB = userClient(B.url, token);
    const first = await send(viaC, { text: 'Hello there' });
    const conversationId = first.conversation.id;
    // Live from where the conversation stands once its first run has ended.
    const watcher = subscribe(B, token, conversationId, first.afterSeq);
    const firstRun = await watcher.untilTerminals(1);
    const lastSeq = firstRun.at(-1)!.seq;
    const live = subscribe(B, token, conversationId, lastSeq);
    const second = await send(viaC, { text: 'Tell me more, please', conversationId });
    expect(second.afterSeq).toBe(lastSeq);
    const events = await live.untilTerminals(1);
    expectGapless(events, lastSeq);
    expectWholeRun(events, second.run.id);

    const history = await viaB(CONVERSATION, { id: conversationId });
    expect(history.errors).toBeUndefined();
    const conversation = history.data.conversation;
    expect(conversation.lastSeq).toBe(events.at(-1)!.seq);
    expect(conversation.messages.map((message: { role: string }) => message.role)).toEqual(['USER', 'AGENT', 'USER', 'AGENT']);
    expect(conversation.runs.map((run: { id: string; status: string }) => [run.id, run.status])).toEqual([
      [first.run.id, 'COMPLETED'],
      [second.run.id, 'COMPLETED'],
    ]);
    expect(conversation.activeRun).toBeNull();
    expectGapless(conversation.events, 0);
    expect(conversation.events.at(-1).__typename).toBe('AgentCompleted');
    expect((await viaB(CONVERSATIONS)).data.conversations.map((each: { id: string }) => each.id)).toContain(conversationId);

    // Someone else sees nothing of it, through any instance.
    const stranger = await tokenFor(`stranger-${randomUUID()}`);
    for (const instance of [A, B, C]) {
      const gql = userClient(instance.url, stranger);
      expect((await gql(CONVERSATION, { id: conversationId })).data.conversation).toBeNull();
      expect((await gql(RUN, { id: second.run.id })).data.run).toBeNull();
      expect((await gql(CANCEL, { runId: second.run.id })).errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
      const sneaking = await gql(SEND, { input: { text: 'hi', conversationId } });
      expect(sneaking.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    }
    const spy = subscribe(C, stranger, conversationId, 0);
    await spy.untilEnded();
    expect(spy.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    watcher.stop();
    live.stop();
  });

  it('makes one run of concurrent repeats of one clientMessageId through A, B and C', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const clientMessageId = randomUUID();
    const conversationId = `idem-${randomUUID()}`;
    const results = await Promise.all(
      Array.from({ length: 9 }, (_, i) => userClient([A, B, C][i % 3]!.url, token)(SEND, { input: { text: 'Hello there', clientMessageId, conversationId } })),
    );
    for (const result of results) expect(result.errors).toBeUndefined();
    const sends = results.map((result) => result.data.sendAgentMessage);
    expect(new Set(sends.map((each) => each.message.id)).size).toBe(1);
    expect(new Set(sends.map((each) => each.run.id)).size).toBe(1);
    expect(new Set(sends.map((each) => each.afterSeq)).size).toBe(1);
    const recorder = subscribe(C, token, conversationId, 0);
    await recorder.untilTerminals(1);
    const history = (await userClient(B.url, token)(CONVERSATION, { id: conversationId })).data.conversation;
    expect(history.runs).toHaveLength(1);
    expect(history.messages.filter((message: { role: string }) => message.role === 'USER')).toHaveLength(1);
    recorder.stop();
  });

  it('gives concurrent sends into one conversation through A, B and C one gapless seq line, runs one at a time in order', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const conversationId = `busy-${randomUUID()}`;
    // (A run executes where its predecessor ended, so the whole line may well run on slow A.)
    const sends = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        send(userClient([B, C, A][i % 3]!.url, token), { text: `Hello number ${i}`, conversationId, onActiveRun: 'ENQUEUE' }),
      ),
    );
    const recorder = subscribe(B, token, conversationId, 0);
    const events = await recorder.untilTerminals(sends.length);
    expectGapless(events, 0);
    // Runs start in the order their messages were logged, and never interleave: between a run's
    // AgentStarted and its terminal event there is nothing of another run but new messages.
    const created = events.filter((event) => event.__typename === 'MessageCreated').map((event) => event.runId);
    const started = events.filter((event) => event.__typename === 'AgentStarted').map((event) => event.runId);
    expect(started).toEqual(created);
    expect(new Set(created)).toEqual(new Set(sends.map((each) => each.run.id)));
    let current: string | null = null;
    for (const event of events) {
      if (event.__typename === 'MessageCreated') continue;
      if (event.__typename === 'AgentStarted') {
        expect(current).toBeNull();
        current = event.runId;
      } else {
        expect(event.runId).toBe(current);
      }
      if (isTerminal(event)) {
        expect(event.__typename).toBe('AgentCompleted');
        current = null;
      }
    }
    for (const each of sends) expectWholeRun(events, each.run.id);
    recorder.stop();
  });

  it('stops a run executing on A when it is cancelled through B, and interrupts through C', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const sent = await send(userClient(A.url, token), { text: 'Hello there' });
    const recorder = subscribe(C, token, sent.conversation.id, sent.afterSeq);
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'the first token');
    const cancelled = await userClient(B.url, token)(CANCEL, { runId: sent.run.id });
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data.cancelAgentRun.status).toBe('CANCELLED');
    const events = await recorder.untilTerminals(1);
    expect(expectWholeRun(events, sent.run.id).__typename).toBe('AgentCancelled');

    // INTERRUPT through C of the next run, which executes on A.
    const next = await send(userClient(A.url, token), { text: 'Hello again', conversationId: sent.conversation.id });
    await recorder.until((all) => all.some((event) => event.runId === next.run.id && event.__typename === 'AgentToken'), 'a token of the next run');
    const interrupting = await send(userClient(C.url, token), {
      text: 'Hello, something else',
      conversationId: sent.conversation.id,
      onActiveRun: 'INTERRUPT',
    });
    const all = await recorder.untilTerminals(3);
    expectGapless(all, sent.afterSeq);
    expect(expectWholeRun(all, next.run.id).__typename).toBe('AgentCancelled');
    expect(expectWholeRun(all, interrupting.run.id).__typename).toBe('AgentCompleted');
    const interruptingStart = all.findIndex((event) => event.runId === interrupting.run.id && event.__typename === 'AgentStarted');
    const nextEnd = all.findIndex((event) => event.runId === next.run.id && isTerminal(event));
    expect(interruptingStart).toBeGreaterThan(nextEnd);
    recorder.stop();
  });

  it('survives a Redis outage: readiness flips to 503 and back, sends fail fast meanwhile, subscribers lose nothing', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const before = await send(userClient(A.url, token), { text: 'Hello there' });
    const conversationId = before.conversation.id;
    const onB = subscribe(B, token, conversationId, before.afterSeq);
    const onC = subscribe(C, token, conversationId, before.afterSeq);
    // Redis goes away while the run streams from A, once both subscriptions are established (one
    // still being set up when Redis goes away is refused with SERVICE_UNAVAILABLE, as it should be).
    await Promise.all([onB, onC].map((recorder) => recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'the first token')));
    await redis.kill();
    await Promise.all([A, B, C].map((instance) => waitForReadiness(instance.url, 503)));

    const refused = await userClient(B.url, token)(SEND, { input: { text: 'Are you there?', conversationId } });
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('SERVICE_UNAVAILABLE');
    expect((await fetch(`${B.url}/healthz`)).status).toBe(200);

    await redis.restart();
    await Promise.all([A, B, C].map((instance) => waitForReadiness(instance.url, 200)));

    // The run cut off by the outage ends (retryable), and the conversation goes on.
    const firstEnd = await onB.untilTerminals(1);
    const cut = expectWholeRun(firstEnd, before.run.id);
    expect(cut.__typename).toBe('AgentFailed');
    expect(cut['error'].retryable).toBe(true);
    const after = await send(userClient(C.url, token), { text: 'Hello again', conversationId });
    for (const recorder of [onB, onC]) {
      const events = await recorder.untilTerminals(2);
      expectGapless(events, before.afterSeq);
      expectWholeRun(events, before.run.id);
      expect(expectWholeRun(events, after.run.id).__typename).toBe('AgentCompleted');
      expect(recorder.errors).toBeNull();
    }
    // Everything appended before the outage is still in the log.
    const history = (await userClient(A.url, token)(CONVERSATION, { id: conversationId })).data.conversation;
    expectGapless(history.events, 0);
    expect(before.afterSeq).toBe(0);
    expect(history.events.map((event: AgentEvent) => [event.seq, event.__typename])).toEqual(onB.events.map((event) => [event.seq, event.__typename]));
    onB.stop();
    onC.stop();
  });

  it('ends a run whose instance is killed with AgentFailed (WORKER_LOST) for subscribers on B, and the conversation goes on', async () => {
    const token = await tokenFor(`user-${randomUUID()}`);
    const sent = await send(userClient(A.url, token), { text: 'Hello there' });
    const conversationId = sent.conversation.id;
    const recorder = subscribe(B, token, conversationId, sent.afterSeq);
    await recorder.until((events) => events.some((event) => event.__typename === 'AgentToken'), 'the first token');
    // A message queued behind the doomed run, through the instance about to die.
    const queued = await send(userClient(A.url, token), { text: 'And after that?', conversationId });

    A.process.child.kill('SIGKILL');
    await A.process.exited;

    const events = await recorder.untilTerminals(2);
    const lost = expectWholeRun(events, sent.run.id);
    expect(lost.__typename).toBe('AgentFailed');
    expect(lost['error']).toMatchObject({ code: 'WORKER_LOST', retryable: true });
    // The survivors took up the queued run.
    expect(expectWholeRun(events, queued.run.id).__typename).toBe('AgentCompleted');
    expectGapless(events, sent.afterSeq);
    const run = (await userClient(C.url, token)(RUN, { id: sent.run.id })).data.run;
    expect(run).toMatchObject({ status: 'FAILED', error: { code: 'WORKER_LOST', retryable: true } });

    const later = await send(userClient(B.url, token), { text: 'Hello once more', conversationId });
    const all = await recorder.untilTerminals(3);
    expect(expectWholeRun(all, later.run.id).__typename).toBe('AgentCompleted');
    recorder.stop();
  });
});
