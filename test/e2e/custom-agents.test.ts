/**
 * Agents an application registers beside the built-ins, reached with `target.agentId`, using
 * what the agent context offers real agents: model deltas streamed as they are, tools called
 * with the caller's toolCallId (checked against their schemas), tools that ran elsewhere,
 * token usage, and a chosen AgentError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentDefinition } from '../../src/agents/contract.ts';
import { AgentError } from '../../src/agents/errors.ts';
import type { RunningServer } from '../../src/server.ts';
import { tokenFor, userClient, type AgentEvent } from '../support/clients.ts';
import { expectRunInvariants, sendAndFollow, typesOf } from '../support/runs.ts';
import { WORKERS_EXECUTE, startTestServer } from '../support/server.ts';

/** Does what its message says, so that each test drives one feature of the context. */
const workbench: AgentDefinition = {
  id: 'test.workbench',
  kind: 'LIAISON',
  pillar: null,
  name: 'Workbench',
  description: 'Exercises the agent context.',
  async run(context) {
    const command = context.input.text;
    if (command === 'fail') throw new AgentError('QUOTA_EXCEEDED', 'The quota for this month is used up.', true);
    if (command === 'crash') throw new Error('a secret detail');
    if (command === 'unknown tool') await context.callTool('no.such_tool', {});
    if (command === 'bad tool input') await context.callTool('files.ingest', { name: 42 });
    if (command === 'change what it was given') {
      const attempts = {
        input: () => ((context.input as { text: string }).text = 'changed'),
        context: () => ((context.input.context as { note: string }).note = 'changed'),
        history: () => ((context.history[0] as { text: string }).text = 'changed'),
        files: () => (context.files as unknown[]).push({ name: 'x', content: 'y' }),
      };
      const frozen = Object.entries(attempts).filter(([, attempt]) => {
        try {
          attempt();
          return false;
        } catch (error) {
          return error instanceof TypeError;
        }
      });
      await context.stream(`frozen: ${frozen.map(([name]) => name).join(', ')}`);
      return;
    }
    if (command === 'tools') {
      const facts = await context.callTool<{ lines: number }>('files.ingest', { name: 'message' }, { toolCallId: `${context.runId}:local-1` });
      await context.reportToolCall({ toolCallId: `${context.runId}:remote-1`, toolName: 'remote.search', arguments: { q: 'sales' } });
      await context.reportToolResult(`${context.runId}:remote-1`, { result: { hits: 2 } });
      // Never answered: closed for the agent when the run ends.
      await context.reportToolCall({ toolCallId: `${context.runId}:remote-2`, toolName: 'remote.wait', arguments: null });
      await context.stream(`lines: ${facts.lines}`);
      return;
    }
    for (const delta of ['You s', 'aid: ', command]) await context.stream(delta);
    context.reportUsage({ inputTokens: 10, outputTokens: 3, totalTokens: 13 });
    context.reportUsage({ inputTokens: 5, outputTokens: 2, totalTokens: 7 });
  },
};

const RUN_USAGE = `query ($id: ID!) { run(id: $id) { status usage { inputTokens outputTokens totalTokens } error { code } } }`;
const COMPLETED_USAGE = `query ($id: ID!) { conversation(id: $id) { events { __typename ... on AgentCompleted { usage { inputTokens outputTokens totalTokens } } } } }`;

describe('custom agents', () => {
  let server: RunningServer;
  let token: string;
  let gql: ReturnType<typeof userClient>;
  const run = (text: string) => sendAndFollow(server.url, token, { text, target: { kind: 'LIAISON', agentId: workbench.id } });
  const failureOf = (events: AgentEvent[]) => events.at(-1)?.['error'];

  beforeAll(async () => {
    server = await startTestServer({}, { agents: [workbench] });
    token = await tokenFor('custom-agents');
    gql = userClient(server.url, token);
  });
  afterAll(() => server.close());

  it('lists the registry: the built-ins, then the application agents', async () => {
    const { data } = await gql(`{ agents { id kind pillar name } }`);
    expect(data.agents.map((agent: { id: string }) => agent.id)).toEqual([
      'guide',
      'liaison.content',
      'liaison.insights',
      'liaison.journey',
      'liaison.outcomes',
      'test.workbench',
    ]);
    expect(data.agents.at(-1)).toEqual({ id: 'test.workbench', kind: 'LIAISON', pillar: null, name: 'Workbench' });
  });

  it('streams deltas as they are and sums the usage on the run and on AgentCompleted', async () => {
    const { sent, events } = await run('ping');
    expect(sent.agentId).toBe('test.workbench');
    expectRunInvariants(events, sent);
    expect(events.filter((event) => event.__typename === 'AgentToken').map((event) => event.delta)).toEqual(['You s', 'aid: ', 'ping']);
    expect(events.at(-1)?.['message'].text).toBe('You said: ping');
    const usage = { inputTokens: 15, outputTokens: 5, totalTokens: 20 };
    expect((await gql(RUN_USAGE, { id: sent.runId })).data.run).toEqual({ status: 'COMPLETED', usage, error: null });
    const stored = (await gql(COMPLETED_USAGE, { id: sent.conversationId })).data.conversation.events;
    expect(stored.find((event: { __typename: string }) => event.__typename === 'AgentCompleted').usage).toEqual(usage);
    if (!WORKERS_EXECUTE) {
      // Counted by the process that executes the run (a worker, in that topology).
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/agent_gateway_tokens_total\{kind="input"\} [1-9]/);
    }
  });

  it('ends a run with exactly the AgentError the agent threw', async () => {
    const { sent, events } = await run('fail');
    expectRunInvariants(events, sent);
    expect(failureOf(events)).toEqual({ code: 'QUOTA_EXCEEDED', message: 'The quota for this month is used up.', retryable: true });
    expect((await gql(RUN_USAGE, { id: sent.runId })).data.run).toEqual({ status: 'FAILED', usage: null, error: { code: 'QUOTA_EXCEEDED' } });
  });

  it('masks any other throw as a non-retryable AGENT_ERROR', async () => {
    const { events } = await run('crash');
    expect(failureOf(events)).toMatchObject({ code: 'AGENT_ERROR', retryable: false });
    expect(failureOf(events).message).not.toContain('secret');
  });

  it("reports the caller's tool-call ids, tools that ran elsewhere, and closes the ones left open", async () => {
    const { sent, events } = await run('tools');
    expectRunInvariants(events, sent);
    const tools = events.filter((event) => event.__typename.startsWith('Tool'));
    expect(tools.map((event) => [event.__typename, event.toolCallId, event.toolName])).toEqual([
      ['ToolExecuting', `${sent.runId}:local-1`, 'files.ingest'],
      ['ToolCompleted', `${sent.runId}:local-1`, 'files.ingest'],
      ['ToolExecuting', `${sent.runId}:remote-1`, 'remote.search'],
      ['ToolCompleted', `${sent.runId}:remote-1`, 'remote.search'],
      ['ToolExecuting', `${sent.runId}:remote-2`, 'remote.wait'],
      ['ToolCompleted', `${sent.runId}:remote-2`, 'remote.wait'],
    ]);
    expect(tools[1]?.['result']).toMatchObject({ name: 'message', lines: 1 });
    expect(tools[2]?.['arguments']).toEqual({ q: 'sales' });
    expect(tools[3]).toMatchObject({ result: { hits: 2 }, toolError: null });
    expect(tools[5]?.['toolError']).toMatchObject({ code: 'NO_RESULT' });
    expect(events.at(-1)?.['message'].text).toBe('lines: 1');
  });

  it.each([
    ['unknown tool', 'UNKNOWN_TOOL'],
    ['bad tool input', 'INVALID_TOOL_INPUT'],
  ])('fails a call to an %s as %s, not retryable, with the tool call closed', async (command, code) => {
    const { sent, events } = await run(command);
    expectRunInvariants(events, sent);
    expect(typesOf(events)).toEqual(['MessageCreated', 'AgentStarted', 'ToolExecuting', 'ToolCompleted', 'AgentFailed']);
    expect(events[3]?.['toolError']).toMatchObject({ code });
    expect(failureOf(events)).toMatchObject({ code, retryable: false });
  });

  it('hands the agent its input, files and history frozen, on every backend', async () => {
    const { sent, events } = await sendAndFollow(server.url, token, {
      text: 'change what it was given',
      target: { kind: 'LIAISON', agentId: workbench.id },
      context: { note: 'as sent', files: [{ name: 'a.txt', content: 'hello' }] },
    });
    expectRunInvariants(events, sent);
    expect(events.at(-1)?.['message'].text).toBe('frozen: input, context, history, files');
  });

  // That it stores nothing is checked with every other bad input in bad-input.test.ts.
  it('answers BAD_USER_INPUT naming target.agentId for an agent that is not registered', async () => {
    const result = await gql(`mutation { sendAgentMessage(input: {text: "Hi", target: {kind: GUIDE, agentId: "nobody"}}) { run { id } } }`);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'target.agentId' });
  });
});
