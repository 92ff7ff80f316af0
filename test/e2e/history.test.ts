/**
 * History through queries: what a client reloads after a few exchanges must agree, field by
 * field, with the events it streamed while they happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { EVENT_FIELDS, EventRecorder, SEND, tokenFor, userClient, wsClient, type AgentEvent } from '../support/clients.ts';
import { awaitRunEnd } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const HISTORY = /* GraphQL */ `
  query History($id: ID!, $messages: Int, $runs: Int) {
    conversation(id: $id) {
      id
      title
      createdAt
      updatedAt
      lastSeq
      messages(last: $messages) {
        id
        conversationId
        role
        text
        agentId
        runId
        seq
        createdAt
      }
      runs(last: $runs) {
        id
        conversationId
        agentId
        status
        userMessageId
        createdAt
        startedAt
        finishedAt
        error {
          code
          message
          retryable
        }
      }
      activeRun {
        id
      }
    }
  }
`;

const EVENTS_PAGE = /* GraphQL */ `
  query Events($id: ID!, $afterSeq: Int, $first: Int) {
    conversation(id: $id) { events(afterSeq: $afterSeq, first: $first) { ${EVENT_FIELDS} } }
  }
`;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const isIso = (value: unknown) => typeof value === 'string' && ISO.test(value) && !Number.isNaN(Date.parse(value));
const time = (value: string) => Date.parse(value);

const TEXTS = ['Planning our quarter', 'What trends are in the data?', 'How do I write an SOP for onboarding?', 'Thanks a lot'];

describe('conversation history', () => {
  let server: RunningServer;
  let token: string;
  let gql: ReturnType<typeof userClient>;
  const conversationId = `History_conv-${Date.now()}`;
  let streamed: AgentEvent[] = [];
  const sends: any[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    token = await tokenFor('historian', { tenantId: 'archive' });
    gql = userClient(server.url, token);
    const client = wsClient(server.url, token);
    let recorder: EventRecorder | undefined;
    for (const [index, text] of TEXTS.entries()) {
      const sent = await gql(SEND, { input: { text, conversationId } });
      expect(sent.errors).toBeUndefined();
      sends.push(sent.data.sendAgentMessage);
      recorder ??= new EventRecorder(client, { conversationId, afterSeq: sent.data.sendAgentMessage.afterSeq });
      await recorder.untilTerminals(index + 1);
    }
    streamed = [...recorder!.events];
    recorder!.stop();
    await client.dispose();
    // The last reply is stored after its AgentCompleted (see runs.test.ts, "a completed run's reply").
    await awaitRunEnd(server.url, token, sends.at(-1).run.id);
  });
  afterAll(() => server.close());

  it('creates the conversation with the client-chosen id and appends to it when continued with that id', () => {
    expect(sends.map((send) => send.conversation.id)).toEqual(TEXTS.map(() => conversationId));
    expect(sends[0].afterSeq).toBe(0);
    expect(sends[0].message.seq).toBe(1);
    for (let index = 1; index < sends.length; index += 1) {
      expect(sends[index].afterSeq).toBeGreaterThan(sends[index - 1].message.seq);
      expect(sends[index].message.seq).toBe(sends[index].afterSeq + 1);
    }
  });

  it('streamed every run from MessageCreated to AgentCompleted with gapless seqs', () => {
    expect(streamed.map((event) => event.seq)).toEqual(streamed.map((_, index) => index + 1));
    for (const send of sends) {
      const ofRun = streamed.filter((event) => event.runId === send.run.id);
      expect(ofRun[0]?.__typename).toBe('MessageCreated');
      expect(ofRun[1]?.__typename).toBe('AgentStarted');
      expect(ofRun.at(-1)?.__typename).toBe('AgentCompleted');
    }
  });

  it('returns title, timestamps and lastSeq', async () => {
    const result = await gql(HISTORY, { id: conversationId });
    expect(result.errors).toBeUndefined();
    const conversation = result.data.conversation;
    expect(conversation.id).toBe(conversationId);
    expect(conversation.title).toBe(TEXTS[0]);
    expect(isIso(conversation.createdAt)).toBe(true);
    expect(isIso(conversation.updatedAt)).toBe(true);
    expect(time(conversation.updatedAt)).toBeGreaterThanOrEqual(time(conversation.createdAt));
    expect(conversation.lastSeq).toBe(streamed.at(-1)!.seq);
    expect(conversation.activeRun).toBeNull();
  });

  it('lists messages oldest first, USER and AGENT in turn, matching the streamed events', async () => {
    const result = await gql(HISTORY, { id: conversationId, messages: 100 });
    const messages = result.data.conversation.messages;
    expect(messages).toHaveLength(TEXTS.length * 2);
    expect(messages.map((message: any) => message.role)).toEqual(TEXTS.flatMap(() => ['USER', 'AGENT']));
    const created = streamed.filter((event) => event.__typename === 'MessageCreated');
    const completed = streamed.filter((event) => event.__typename === 'AgentCompleted');
    for (const [index, text] of TEXTS.entries()) {
      const user = messages[index * 2];
      const agent = messages[index * 2 + 1];
      expect(user).toMatchObject({ conversationId, text, agentId: null, runId: sends[index].run.id, id: sends[index].message.id });
      expect(user.seq).toBe(created[index]!.seq);
      expect(user.id).toBe(created[index]!['message'].id);
      expect(isIso(user.createdAt)).toBe(true);
      expect(agent).toMatchObject({
        id: completed[index]!['message'].id,
        text: completed[index]!['message'].text,
        agentId: completed[index]!['message'].agentId,
        seq: completed[index]!['message'].seq,
        runId: sends[index].run.id,
        conversationId,
      });
      expect(agent.agentId).toEqual(expect.stringMatching(/^(guide|liaison\.(content|insights|journey|outcomes))$/));
      expect(agent.agentId).toBe(completed[index]!.agentId);
      expect(isIso(agent.createdAt)).toBe(true);
    }
    const seqs = messages.map((message: any) => message.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('returns the last N messages, still oldest first', async () => {
    const all = (await gql(HISTORY, { id: conversationId, messages: 100 })).data.conversation.messages;
    const lastThree = (await gql(HISTORY, { id: conversationId, messages: 3 })).data.conversation.messages;
    expect(lastThree).toEqual(all.slice(-3));
    expect((await gql(HISTORY, { id: conversationId, messages: 0 })).data.conversation.messages).toEqual([]);
  });

  it('lists runs oldest first as COMPLETED with their timestamps, and run(id) agrees', async () => {
    const result = await gql(HISTORY, { id: conversationId, runs: 100 });
    const runs = result.data.conversation.runs;
    expect(runs.map((run: any) => run.id)).toEqual(sends.map((send) => send.run.id));
    const started = streamed.filter((event) => event.__typename === 'AgentStarted');
    for (const [index, run] of runs.entries()) {
      expect(run).toMatchObject({ conversationId, status: 'COMPLETED', userMessageId: sends[index].message.id, error: null });
      expect(run.agentId).toBe(started[index]!.agentId);
      for (const field of ['createdAt', 'startedAt', 'finishedAt']) expect(isIso(run[field]), field).toBe(true);
      expect(time(run.startedAt)).toBeGreaterThanOrEqual(time(run.createdAt));
      expect(time(run.finishedAt)).toBeGreaterThanOrEqual(time(run.startedAt));

      const single = await gql(
        'query ($id: ID!) { run(id: $id) { id conversationId agentId status userMessageId createdAt startedAt finishedAt error { code message retryable } } }',
        { id: run.id },
      );
      expect(single).toEqual({ data: { run } });
    }
    const lastTwo = (await gql(HISTORY, { id: conversationId, runs: 2 })).data.conversation.runs;
    expect(lastTwo).toEqual(runs.slice(-2));
  });

  it('pages events with afterSeq and first into the whole gapless log, equal to what was streamed', async () => {
    const lastSeq = (await gql(HISTORY, { id: conversationId })).data.conversation.lastSeq;
    const pages: AgentEvent[][] = [];
    let afterSeq = 0;
    for (;;) {
      const result = await gql(EVENTS_PAGE, { id: conversationId, afterSeq, first: 4 });
      expect(result.errors).toBeUndefined();
      const page: AgentEvent[] = result.data.conversation.events;
      if (page.length === 0) break;
      expect(page.length).toBeLessThanOrEqual(4);
      expect(page[0]!.seq).toBe(afterSeq + 1);
      pages.push(page);
      afterSeq = page.at(-1)!.seq;
      expect(pages.length).toBeLessThan(1000);
    }
    const all = pages.flat();
    expect(all.map((event) => event.seq)).toEqual(Array.from({ length: lastSeq }, (_, index) => index + 1));
    expect(all).toEqual(streamed);
    // Every page but the last is full.
    expect(pages.slice(0, -1).every((page) => page.length === 4)).toBe(true);
    // Defaults: everything from the start.
    const defaults = await gql(`query ($id: ID!) { conversation(id: $id) { events { seq } } }`, { id: conversationId });
    expect(defaults.data.conversation.events.map((event: AgentEvent) => event.seq)).toEqual(all.map((event) => event.seq).slice(0, 100));
    // From the middle.
    const middle = await gql(EVENTS_PAGE, { id: conversationId, afterSeq: 5, first: 3 });
    expect(middle.data.conversation.events).toEqual(streamed.slice(5, 8));
  });

  it('orders conversations by most recent activity and honours first', async () => {
    const busyToken = await tokenFor('busy-user');
    const busy = userClient(server.url, busyToken);
    const client = wsClient(server.url, busyToken);
    // The agent's reply is activity too: each exchange is awaited to its end before the next.
    const send = async (id: string, text: string) => {
      const sent = await busy(SEND, { input: { text, conversationId: id } });
      expect(sent.errors).toBeUndefined();
      const recorder = new EventRecorder(client, { conversationId: id, afterSeq: sent.data.sendAgentMessage.afterSeq });
      await recorder.untilTerminals(1);
      recorder.stop();
    };
    const list = async (first?: number): Promise<{ id: string; updatedAt: string }[]> =>
      (await busy(`{ conversations${first === undefined ? '' : `(first: ${first})`} { id updatedAt } }`)).data.conversations;
    /**
     * `expected` is the order of activity, newest first. Activities within one millisecond have
     * equal timestamps, and their order is then not observable: those pairs are not compared.
     */
    const expectOrder = async (expected: string[]) => {
      const listed = await list();
      expect(listed.map((item) => item.id).sort()).toEqual([...expected].sort());
      const times = listed.map((item) => time(item.updatedAt));
      expect(times).toEqual([...times].sort((a, b) => b - a));
      const at = new Map(listed.map((item, index) => [item.id, { index, time: time(item.updatedAt) }]));
      for (let newer = 0; newer < expected.length; newer += 1) {
        for (let older = newer + 1; older < expected.length; older += 1) {
          const a = at.get(expected[newer]!)!;
          const b = at.get(expected[older]!)!;
          expect(a.time, `${expected[newer]} is at least as recent as ${expected[older]}`).toBeGreaterThanOrEqual(b.time);
          if (a.time !== b.time) expect(a.index).toBeLessThan(b.index);
        }
      }
      return listed;
    };
    await send('conv-a', 'Hello A');
    await send('conv-b', 'Hello B');
    await send('conv-c', 'Hello C');
    await expectOrder(['conv-c', 'conv-b', 'conv-a']);
    await send('conv-a', 'Back to A');
    const listed = await expectOrder(['conv-a', 'conv-c', 'conv-b']);
    expect((await list(2)).map((item) => item.id)).toEqual(listed.slice(0, 2).map((item) => item.id));
    expect(await list(0)).toEqual([]);
    await client.dispose();
  });

  it('keeps the title from the first message', async () => {
    const busy = userClient(server.url, await tokenFor('titled-user'));
    await busy(SEND, { input: { text: '  First line of a question\nwith a second line', conversationId: 'titled' } });
    await busy(SEND, { input: { text: 'A later message', conversationId: 'titled' } });
    const result = await busy('{ conversation(id: "titled") { title } }');
    expect(result.data.conversation.title).toBe('First line of a question');
  });

  it('lists the guide and the four liaisons', async () => {
    const result = await gql('{ agents { id kind pillar name description } }');
    expect(result.errors).toBeUndefined();
    const agents = result.data.agents;
    const byId = new Map(agents.map((agent: any) => [agent.id, agent]));
    expect([...byId.keys()].sort()).toEqual(['guide', 'liaison.content', 'liaison.insights', 'liaison.journey', 'liaison.outcomes']);
    expect(byId.get('guide')).toMatchObject({ kind: 'GUIDE', pillar: null });
    for (const pillar of ['CONTENT', 'INSIGHTS', 'JOURNEY', 'OUTCOMES']) {
      expect(byId.get(`liaison.${pillar.toLowerCase()}`)).toMatchObject({ kind: 'LIAISON', pillar });
    }
    for (const agent of agents) {
      expect(agent.name.trim()).not.toBe('');
      expect(agent.description.trim()).not.toBe('');
    }
  });
});
