/**
 * The example as its users would run it: `src/main.ts` as a process, with a local
 * OpenAI-compatible server behind the writer and a local AG-UI server behind the research agent
 * (the outer edges), driven through the gateway's public GraphQL API over HTTP and SSE.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

type Event = { __typename: string; delta?: string; message?: { text: string }; error?: { code: string } };

const sse = (response: ServerResponse, payloads: unknown[]) => {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const payload of payloads) response.write(`data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`);
  response.end();
};

/** A model provider that always answers "Hello from the model." */
function modelServer(): Server {
  return createServer((_request, response) => {
    const chunk = (delta: object, finish: string | null = null) => ({
      id: 'c1',
      object: 'chat.completion.chunk',
      created: 0,
      model: 'm',
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    sse(response, [chunk({ role: 'assistant', content: 'Hello ' }), chunk({ content: 'from the model.' }), chunk({}, 'stop'), '[DONE]']);
  });
}

/** A remote AG-UI agent that always answers "Remote hello." */
function agUiServer(): Server {
  return createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      const { threadId, runId } = JSON.parse(body) as { threadId: string; runId: string };
      sse(response, [
        { type: 'RUN_STARTED', threadId, runId },
        { type: 'TEXT_MESSAGE_START', messageId: 'm1', role: 'assistant' },
        { type: 'TEXT_MESSAGE_CONTENT', messageId: 'm1', delta: 'Remote hello.' },
        { type: 'TEXT_MESSAGE_END', messageId: 'm1' },
        { type: 'RUN_FINISHED', threadId, runId },
      ]);
    });
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Starts the example and resolves with its URL, which it prints once it listens. */
function startExample(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(output);
      if (found) resolve({ child, url: found[1]! });
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code) => reject(new Error(`the example exited (${code}) before listening:\n${output}`)));
  });
}

describe('custom-agent example', () => {
  const servers = [modelServer(), agUiServer()];
  let example: { child: ChildProcess; url: string };
  let token: string;

  const graphql = async (query: string, variables: object = {}) => {
    const response = await fetch(`${example.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data: any; errors?: unknown[] };
  };

  /** Sends to `agentId` and follows the run over SSE to its terminal event. */
  const ask = async (agentId: string, text: string): Promise<Event[]> => {
    const sent = await graphql(
      `
        mutation ($input: SendAgentMessageInput!) {
          sendAgentMessage(input: $input) {
            conversation {
              id
            }
            afterSeq
          }
        }
      `,
      { input: { text, target: { kind: 'LIAISON', agentId } } },
    );
    assert.equal(sent.errors, undefined, JSON.stringify(sent.errors));
    const { conversation, afterSeq } = sent.data.sendAgentMessage;
    const response = await fetch(`${example.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: `subscription ($id: ID!, $after: Int) { agentEvents(conversationId: $id, afterSeq: $after) {
          __typename ... on AgentToken { delta } ... on AgentCompleted { message { text } } ... on AgentFailed { error { code } } } }`,
        variables: { id: conversation.id, after: afterSeq },
      }),
    });
    const events: Event[] = [];
    let buffer = '';
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      for (const match of buffer.matchAll(/^data: (.+)$/gm)) {
        const event = (JSON.parse(match[1]!) as { data?: { agentEvents: Event } }).data?.agentEvents;
        if (event) events.push(event);
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
      if (events.some((event) => ['AgentCompleted', 'AgentFailed', 'AgentCancelled'].includes(event.__typename))) break;
    }
    await reader.cancel();
    return events;
  };

  before(async () => {
    const [modelUrl, agUiUrl] = await Promise.all(servers.map(listen));
    example = await startExample({
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      AGENT_STEP_DELAY_MS: '0',
      WRITER_BASE_URL: `${modelUrl}/v1`,
      RESEARCH_AGENT_URL: `${agUiUrl}/agent`,
    });
    const issued = await fetch(`${example.url}/auth/dev-token`, { method: 'POST', body: JSON.stringify({ userId: 'example-user' }) });
    token = ((await issued.json()) as { token: string }).token;
  });
  after(() => {
    example?.child.kill('SIGKILL');
    for (const server of servers) server.close();
  });

  it('runs on the built gateway (its dist/), as any application of the package does', () => {
    // tsx compiles this example's own sources only: the gateway comes as JavaScript with declarations.
    assert.match(import.meta.resolve('agent-gateway'), /\/dist\/index\.js$/);
  });

  it('lists its agents beside the built-in ones', async () => {
    const ids = (await graphql('{ agents { id } }')).data.agents.map((agent: { id: string }) => agent.id);
    assert.deepEqual(ids.slice(-3), ['echo', 'writer', 'research']);
    assert.ok(ids.includes('guide'));
  });

  it('runs the echo agent, and ends a run with the AgentError it throws', async () => {
    const events = await ask('echo', 'hello');
    assert.deepEqual(events.at(-1), { __typename: 'AgentCompleted', message: { text: 'You said: hello' } });
    assert.equal(
      events
        .filter((event) => event.__typename === 'AgentToken')
        .map((event) => event.delta)
        .join(''),
      'You said: hello',
    );
    assert.deepEqual((await ask('echo', 'silence')).at(-1), { __typename: 'AgentFailed', error: { code: 'NOTHING_TO_ECHO' } });
  });

  it('runs the LLM agent on the model server', async () => {
    assert.deepEqual((await ask('writer', 'Say hello')).at(-1), { __typename: 'AgentCompleted', message: { text: 'Hello from the model.' } });
  });

  it('runs the AG-UI agent on the remote server', async () => {
    assert.deepEqual((await ask('research', 'Find something')).at(-1), { __typename: 'AgentCompleted', message: { text: 'Remote hello.' } });
  });
});
