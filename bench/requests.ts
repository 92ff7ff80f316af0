/**
 * What one GraphQL request over HTTP costs the server: `{ __typename }` and a send
 * (sendAgentMessage, its run's lifecycle included), in µs of server CPU per request, over one
 * kept-alive connection, one request at a time, on ours (memory backend) and on a plain yoga
 * with the same schema and context in the same process (what our plugins and routes add).
 *
 * Usage (`npm run bench:requests --`): npx tsx bench/requests.ts [--requests 2000 --servers 'ours,plain yoga' --profile <dir>]
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Agent, request as httpRequest } from 'node:http';
import { tokenFor } from '../test/support/clients.ts';
import { TEST_SECRET } from '../test/support/server.ts';
import { Child } from './ipc.ts';

const { values: options } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    profile: { type: 'string' },
    servers: { type: 'string', default: 'ours,plain yoga' },
    operations: { type: 'string', default: 'typename,send' },
  },
});
const REQUESTS = Number(options.requests);
const SEND = `mutation ($input: SendAgentMessageInput!) { sendAgentMessage(input: $input) { run { id } } }`;

const server = await Child.start('./servers/ours.ts', { BENCH_SECRET: TEST_SECRET }, options.profile);
const token = await tokenFor('bench');
// One connection, kept alive: what a client that sends one message after another uses.
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let connections = 0;
let requests = 0;

function post(url: string, body: unknown): Promise<unknown> {
  const payload = JSON.stringify(body);
  requests += 1;
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${url}/graphql`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${token}` },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          const answer = JSON.parse(text) as { errors?: unknown };
          if (answer.errors) reject(new Error(JSON.stringify(answer.errors)));
          else resolve(answer);
        });
      },
    );
    request.on('socket', (socket) => {
      if (!(socket as { counted?: boolean }).counted) connections += 1;
      (socket as { counted?: boolean }).counted = true;
    });
    request.on('error', reject);
    request.end(payload);
  });
}

/** Server CPU in µs per request of `body(n)` over `requests` requests, after a warm-up. */
async function perRequest(url: string, body: (n: number) => unknown): Promise<number> {
  for (let n = 0; n < 200; n += 1) await post(url, body(n));
  const before = await server.request<number>('cpu');
  for (let n = 0; n < REQUESTS; n += 1) await post(url, body(n));
  const after = await server.request<number>('cpu');
  return Math.round((after - before) / REQUESTS);
}

const endpoints = {
  ours: (await server.request<string>('url')).replace(/^ws/, 'http').replace(/\/graphql$/, ''),
  'plain yoga': await server.request<string>('plainYoga'),
};
const conversationId = `requests-${randomUUID()}`;
const results: Record<string, Record<string, number>> = {};
for (const [name, url] of Object.entries(endpoints).filter(([name]) => options.servers.split(',').includes(name))) {
  const operations = options.operations.split(',');
  results[name] = {};
  if (operations.includes('typename')) results[name]['{ __typename }, µs'] = await perRequest(url, () => ({ query: '{ __typename }' }));
  if (operations.includes('send')) {
    results[name]['send, µs'] = await perRequest(url, (n) => ({
      query: SEND,
      variables: {
        input: {
          text: `tokens 0 (${n})`,
          conversationId: `${conversationId}-${name.replace(' ', '-')}-${Math.floor(n / 50)}`,
          target: { kind: 'LIAISON', agentId: 'bench.tokens' },
        },
      },
    }));
  }
  console.error(name, JSON.stringify(results[name]));
}
console.table(results);
console.log(`${connections} connections for ${requests} requests`);
agent.destroy();
await server.stop();
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
await writeFile(
  new URL(`./results/requests-${stamp}.json`, import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, options, load: loadavg()[0], connections, requests, results }, null, 2)}\n`,
);
