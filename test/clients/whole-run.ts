/** What both client tests send, and what a whole run must look like when it arrives. */
import { expect } from 'vitest';
import type { AgentEventsSubscription } from '../../web/src/gql/graphql.ts';

export type AgentEvent = AgentEventsSubscription['agentEvents'];

export const SALES_CSV = 'month,revenue\n2026-01-01,120\n2026-02-01,135\n2026-03-01,160\n';

export const isTerminal = (event: AgentEvent) =>
  event.__typename === 'AgentCompleted' || event.__typename === 'AgentFailed' || event.__typename === 'AgentCancelled';

/**
 * Every event of one Insights run about sales.csv, in order: the user's message, the liaison's
 * start, its tool calls (each closed), its TABLE and VISUALIZATION artifacts, the tokens, and a
 * completion whose message is the tokens joined.
 */
export function expectWholeInsightsRun(events: readonly AgentEvent[], run: { id: string; afterSeq: number }): void {
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => run.afterSeq + 1 + index));
  expect(events.every((event) => event.runId === run.id)).toBe(true);
  const [created, started] = events;
  expect(created?.__typename).toBe('MessageCreated');
  expect(started).toMatchObject({ __typename: 'AgentStarted', agentId: 'liaison.insights' });

  const calls = events.filter((event) => event.__typename === 'ToolExecuting');
  const results = events.filter((event) => event.__typename === 'ToolCompleted');
  expect(calls.map((call) => call.toolName)).toEqual(['insights.profile_csv', 'insights.chart_spec']);
  expect(calls[0]?.arguments).toEqual({ name: 'sales.csv' });
  expect(results.map((result) => result.toolCallId)).toEqual(calls.map((call) => call.toolCallId));
  expect(results.every((result) => result.toolError === null)).toBe(true);
  expect(results[0]?.result).toMatchObject({ rowCount: 3 });

  const artifacts = events.filter((event) => event.__typename === 'AgentArtifact');
  expect(artifacts.map((artifact) => artifact.kind)).toEqual(['TABLE', 'VISUALIZATION']);
  expect(artifacts[1]?.data).toMatchObject({ $schema: expect.stringContaining('vega-lite'), mark: { type: 'line' } });

  const completed = events.at(-1);
  if (completed?.__typename !== 'AgentCompleted') throw new Error(`the run ended with ${completed?.__typename}`);
  const tokens = events.flatMap((event) => (event.__typename === 'AgentToken' ? [event.delta] : []));
  expect(tokens.length).toBeGreaterThan(5);
  expect(tokens.join('')).toBe(completed.message.text);
  expect(completed.message).toMatchObject({ role: 'AGENT', agentId: 'liaison.insights', runId: run.id });
  expect(completed.message.text).toContain('sales.csv has 3 rows and 2 columns.');
}
