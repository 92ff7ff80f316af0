import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server.ts';
import { SEND, tokenFor, userClient } from '../support/clients.ts';
import { expectRunInvariants, sendAndFollow, typesOf } from '../support/runs.ts';
import { startTestServer } from '../support/server.ts';

const SALES_CSV = 'month,region,revenue\n2026-01-01,north,120\n2026-02-01,south,135\n2026-03-01,north,\n';
const SOP = 'Expense approval SOP\n1. Employee submits the receipt (Owner: Employee)\n2. Manager approves the claim\n3. Finance pays within 5 days\n';

describe('routing: which agent answers', () => {
  let server: RunningServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = await tokenFor('router');
  });
  afterAll(() => server.close());

  const cases: { name: string; input: Record<string, unknown>; agentId: string }[] = [
    { name: 'HOME surface goes to the guide', input: { text: 'Hello' }, agentId: 'guide' },
    { name: 'a pillar surface goes to its liaison', input: { text: 'Hello', surface: 'JOURNEY' }, agentId: 'liaison.journey' },
    {
      name: 'a GUIDE target wins over the surface',
      input: { text: 'Hello', surface: 'CONTENT', target: { kind: 'GUIDE' } },
      agentId: 'guide',
    },
    {
      name: 'a LIAISON target wins over the surface',
      input: { text: 'Hello', surface: 'HOME', target: { kind: 'LIAISON', pillar: 'OUTCOMES' } },
      agentId: 'liaison.outcomes',
    },
  ];
  for (const { name, input, agentId } of cases) {
    it(name, async () => {
      const { sent, events } = await sendAndFollow(server.url, token, input);
      expect(sent.agentId).toBe(agentId);
      expectRunInvariants(events, sent);
      expect(events.at(-1)?.__typename).toBe('AgentCompleted');
      expect(events.at(-1)?.message.agentId).toBe(agentId);
    });
  }

  it('rejects a LIAISON target without a pillar', async () => {
    const response = await userClient(server.url, token)(SEND, { input: { text: 'Hi', target: { kind: 'LIAISON' } } });
    expect(response.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  it('the guide hands a data question to insights, whose events follow in the same run', async () => {
    const { sent, events } = await sendAndFollow(server.url, token, {
      text: 'What trends are in this data?',
      context: { files: [{ name: 'sales.csv', content: SALES_CSV }] },
    });
    expectRunInvariants(events, sent);
    const handoffs = events.filter((event) => event.__typename === 'AgentHandoff');
    expect(handoffs).toHaveLength(1);
    expect(handoffs[0]).toMatchObject({ agentId: 'guide', fromAgentId: 'guide', toAgentId: 'liaison.insights' });
    const afterHandoff = events.slice(events.indexOf(handoffs[0]!) + 1);
    expect(afterHandoff.every((event) => event.agentId === 'liaison.insights')).toBe(true);
    const tools = events.filter((event) => event.__typename === 'ToolCompleted').map((event) => event.toolName);
    expect(tools).toEqual(['insights.profile_csv', 'insights.chart_spec']);
    const profile = events.find((event) => event.toolName === 'insights.profile_csv' && event.__typename === 'ToolCompleted');
    expect(profile?.result.rowCount).toBe(3);
    expect(profile?.result.columns.find((column: { name: string }) => column.name === 'revenue')).toMatchObject({
      type: 'number',
      missing: 1,
      min: 120,
      max: 135,
      mean: 127.5,
    });
    const artifacts = events.filter((event) => event.__typename === 'AgentArtifact');
    expect(artifacts.map((artifact) => artifact.kind)).toEqual(['TABLE', 'VISUALIZATION']);
    expect(artifacts[1]?.data.$schema).toContain('vega-lite');
    expect(events.at(-1)?.message.text).toContain('sales.csv has 3 rows');
    expect(events.at(-1)?.message.text).toContain('Trend: revenue rose from 120 to 135 (+12.5%) between 2026-01-01 and 2026-02-01, ending at its peak.');
    expect(profile?.result.trend).toMatchObject({ over: 'month', of: 'revenue', points: 2 });
  });

  const handoffCases: [string, string][] = [
    ['Turn this SOP into a workflow', 'liaison.journey'],
    ['What is the ROI of this initiative?', 'liaison.outcomes'],
    ['Please parse this document', 'liaison.content'],
  ];
  for (const [text, liaison] of handoffCases) {
    it(`the guide hands "${text}" to ${liaison}`, async () => {
      const { sent, events } = await sendAndFollow(server.url, token, {
        text,
        context: { files: [{ name: 'expenses-sop.md', content: SOP }] },
      });
      expectRunInvariants(events, sent);
      const handoff = events.find((event) => event.__typename === 'AgentHandoff');
      expect(handoff?.toAgentId).toBe(liaison);
      expect(events.at(-1)?.agentId).toBe(liaison);
    });
  }

  it('the journey liaison turns an SOP into a workflow table', async () => {
    const { events } = await sendAndFollow(server.url, token, {
      text: 'Map this',
      surface: 'JOURNEY',
      context: { files: [{ name: 'expenses-sop.md', content: SOP }] },
    });
    const table = events.find((event) => event.__typename === 'AgentArtifact');
    expect(table?.kind).toBe('TABLE');
    expect(table?.data.columns).toEqual(['step', 'action', 'actor', 'notes']);
    expect(table?.data.rows).toHaveLength(3);
    expect(table?.data.rows[0][2]).toBe('Employee');
  });

  it('a message naming several pillars makes them collaborate, then the guide combines', async () => {
    const { sent, events } = await sendAndFollow(server.url, token, {
      text: 'Compare the data trends with the workflow and the ROI',
      context: { files: [{ name: 'sales.csv', content: SALES_CSV }] },
    });
    expectRunInvariants(events, sent);
    const handoffs = events.filter((event) => event.__typename === 'AgentHandoff');
    expect(handoffs.map((event) => event.toAgentId)).toEqual(['liaison.insights', 'liaison.journey', 'liaison.outcomes']);
    expect(handoffs.every((event) => event.fromAgentId === 'guide')).toBe(true);
    const completed = events.at(-1)!;
    expect(completed.agentId).toBe('guide');
    expect(completed.message.text).toContain('Insights liaison');
    expect(completed.message.text).toContain('Journey liaison');
    expect(completed.message.text).toContain('Outcomes liaison');
  });

  it('the guide answers itself, taking in attached files as tool calls', async () => {
    const { sent, events } = await sendAndFollow(server.url, token, {
      text: 'Here you go',
      context: { files: [{ name: 'notes.txt', content: 'one\ntwo\n' }] },
    });
    expectRunInvariants(events, sent);
    expect(typesOf(events)).not.toContain('AgentHandoff');
    const ingest = events.find((event) => event.__typename === 'ToolCompleted');
    expect(ingest).toMatchObject({ toolName: 'files.ingest', agentId: 'guide' });
    expect(ingest?.result).toMatchObject({ name: 'notes.txt', format: 'text', lines: 3 });
  });

  it('every agent sees the whole history, whichever agent wrote it', async () => {
    const first = await sendAndFollow(server.url, token, { text: 'Hello', surface: 'CONTENT' });
    const second = await sendAndFollow(server.url, token, {
      text: 'And now?',
      conversationId: first.sent.conversationId,
    });
    expect(second.events.at(-1)?.message.text).toContain('2 earlier messages');
    const report = await sendAndFollow(server.url, token, {
      text: 'Give me a report',
      surface: 'OUTCOMES',
      conversationId: first.sent.conversationId,
    });
    const thinking = report.events.find((event) => event.__typename === 'AgentThinking');
    expect(thinking?.text).toContain('5 messages');
  });
});
