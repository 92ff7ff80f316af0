/**
 * Abuse benchmark: the worst single operations one caller can send, and what a stream of them
 * does to everyone else. The gateway runs as its own process, so that its CPU time can be read
 * from the OS (/proc/<pid>/stat) and the load generator does not share its event loop.
 *
 * 1. Each attack once: the gateway's CPU time and the wall time until it answers.
 * 2. Another user's event latency (arrival minus the event's timestamp) while their runs stream,
 *    first quiet, then while one attacker sends the attacks (all but the one within the limits)
 *    back to back; reported as the p99 and its ratio to the quiet one, measured in the same run.
 *
 * Usage: npm run bench:abuse [-- --runs 30]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EVENTS, EventRecorder, SEND, tokenFor, userClient, wsClient } from '../test/support/clients.ts';
import { freePort, spawnGateway, waitForHealthy } from '../test/support/process.ts';
import { TEST_SECRET } from '../test/support/server.ts';

const { values: options } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    // Internal: this file again, as the attacker's own process (see below).
    'attack-url': { type: 'string' },
    'attack-conversation': { type: 'string' },
  },
});
const RUNS = Number(options.runs);
const PHASES = 6;

/** The gateway's CPU time so far (user + system), in milliseconds. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

interface Attack {
  name: string;
  body: string;
  token: string | null;
  /** The heaviest operation the limits let through, for comparison. */
  withinLimits?: boolean;
}

function attacks(conversationId: string, token: string): Attack[] {
  const aliases = (count: number, field: (index: number) => string) => Array.from({ length: count }, (_, index) => field(index)).join(' ');
  const request = (query: string) => JSON.stringify({ query });
  return [
    {
      name: '5,000 aliases of conversation { events(first: 100) }',
      body: request(`{ ${aliases(5000, (index) => `a${index}: conversation(id: "${conversationId}") { events(first: 100) { seq } }`)} }`),
      token,
    },
    {
      name: '2,500 x events(first: 1000)',
      body: request(`{ conversation(id: "${conversationId}") { ${aliases(2500, (index) => `p${index}: events(first: 1000) { seq }`)} } }`),
      token,
    },
    {
      name: '1M __typename aliases, no token',
      body: request(`{ ${aliases(1_000_000, (index) => `t${index}: __typename`)} }`),
      token: null,
    },
    { name: 'huge document: 8 MiB comment', body: request(`#${'x'.repeat(8 * 1024 * 1024)}\n{ viewer { id } }`), token },
    { name: 'deep document: 100,000 nested selections', body: request(`{ viewer ${'{ id '.repeat(100_000)}${'}'.repeat(100_001)}`), token },
    {
      name: 'worst accepted: events(first: 1000) of 18 fields',
      body: request(
        `{ conversation(id: "${conversationId}") { events(first: 1000) { __typename id seq conversationId runId agentId timestamp ` +
          `... on AgentToken { delta } ... on AgentThinking { text } ... on ToolExecuting { toolCallId toolName arguments } ` +
          `... on ToolCompleted { toolCallId durationMs result } ... on AgentCompleted { message { id text } } } } }`,
      ),
      token,
      withinLimits: true,
    },
  ];
}

async function send(url: string, attack: Attack): Promise<string> {
  let response;
  try {
    response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(attack.token && { authorization: `Bearer ${attack.token}` }) },
      body: attack.body,
    });
  } catch {
    return 'connection closed while sending'; // refused before the body was read
  }
  const text = await response.text();
  try {
    const result = JSON.parse(text) as { errors?: { extensions?: { limit?: string; code?: string } }[] };
    const error = result.errors?.[0]?.extensions;
    return error ? `${response.status} ${error.limit ?? error.code}` : `${response.status} answered (${text.length} bytes)`;
  } catch {
    return `${response.status}`;
  }
}

/** A user following their own runs: sends `runs` messages one after another, timing every event. */
async function victimLatencies(url: string, token: string, runs: number): Promise<number[]> {
  const gql = userClient(url, token);
  const first = (await gql(SEND, { input: { text: 'Hello, tell me about the platform' } })).data.sendAgentMessage;
  const client = wsClient(url, token);
  const latencies: number[] = [];
  let terminal: (() => void) | null = null;
  const dispose = client.subscribe<{ agentEvents: { timestamp: string; __typename: string } }>(
    { query: EVENTS, variables: { conversationId: first.conversation.id } },
    {
      next: ({ data }) => {
        if (!data) return;
        latencies.push(Date.now() - Date.parse(data.agentEvents.timestamp));
        if (['AgentCompleted', 'AgentFailed', 'AgentCancelled'].includes(data.agentEvents.__typename)) terminal?.();
      },
      error: (error) => console.error('victim subscription failed', error),
      complete: () => undefined,
    },
  );
  await new Promise<void>((resolve) => client.on('connected', () => resolve()));
  for (let run = 0; run < runs; run += 1) {
    const done = new Promise<void>((resolve) => (terminal = resolve));
    await gql(SEND, { input: { text: `Run ${run}: tell me about the platform`, conversationId: first.conversation.id } });
    await done;
  }
  dispose();
  await client.dispose();
  return latencies;
}

/** A conversation of the attacker's holding at least `count` events, so that pages of 1000 are full. */
async function conversationWithEvents(url: string, token: string, count: number): Promise<string> {
  const gql = userClient(url, token);
  const first = (await gql(SEND, { input: { text: 'Hello there' } })).data.sendAgentMessage;
  const client = wsClient(url, token);
  const recorder = new EventRecorder(client, { conversationId: first.conversation.id, afterSeq: 0 });
  for (let runs = 1; (await recorder.untilTerminals(runs)).length < count; runs += 1) {
    await gql(SEND, { input: { text: 'Compare our insights and outcomes', conversationId: first.conversation.id } });
  }
  recorder.stop();
  await client.dispose();
  return first.conversation.id;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
};

/**
 * The attacker runs in a process of its own: building and uploading 19 MiB bodies would
 * otherwise stall this process's event loop and show up as the victim's latency.
 */
async function attackOnCommand(url: string, conversationId: string): Promise<void> {
  // The attacks proper: the operation within the limits is measured alone, not streamed.
  const list = attacks(conversationId, await tokenFor('attacker')).filter((attack) => !attack.withinLimits);
  let attacking = false;
  let sent = 0;
  let wake: () => void = () => undefined;
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (command) => {
    attacking = command === 'attack';
    if (command === 'count') process.stdout.write(`${sent}\n`);
    if (command === 'stop') lines.close();
    wake();
  });
  lines.on('close', () => process.exit(0));
  process.stdout.write('ready\n');
  for (;;) {
    if (!attacking) await new Promise<void>((resolve) => (wake = resolve));
    for (const attack of list) {
      if (!attacking) break;
      await send(url, attack);
      sent += 1;
    }
  }
}

/**
 * The attacker's process, started once and told when to attack, so that its start-up (and the
 * building of its bodies) weighs on no phase, and quiet phases run beside it idle.
 */
async function startAttacker(url: string, conversationId: string) {
  // At the lowest CPU priority, standing in for a machine of its own: building and uploading its
  // bodies must not take the cores from the gateway and the victim, which is not what is measured.
  const args = ['-n', '19', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--attack-url', url, '--attack-conversation', conversationId];
  const child = spawn('nice', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const reply = async () => String((await replies.next()).value);
  await reply(); // ready
  const exited = new Promise((resolve) => child.once('close', resolve));
  return {
    attack: () => child.stdin.write('attack\n'),
    pause: () => child.stdin.write('pause\n'),
    async stop(): Promise<number> {
      child.stdin.write('count\n');
      const sent = Number(await reply());
      child.stdin.end('stop\n');
      await exited;
      return sent;
    },
  };
}

async function benchmark(): Promise<void> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const gateway = spawnGateway({
    PORT: String(port),
    AUTH_JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'silent',
    AGENT_STEP_DELAY_MS: '5',
    SEND_RATE_LIMIT: '1000000',
  });
  const pid = gateway.child.pid!;
  try {
    await waitForHealthy(url, gateway);
    const attackerToken = await tokenFor('attacker');
    const conversationId = await conversationWithEvents(url, attackerToken, 1000);
    const list = attacks(conversationId, attackerToken);

    // Each attack REPEAT times in a row, since the OS counts CPU time in 10 ms ticks.
    const REPEAT = 10;
    const single = [];
    for (const attack of list) {
      const cpuBefore = cpuMs(pid);
      const started = performance.now();
      let outcome = '';
      for (let round = 0; round < REPEAT; round += 1) outcome = await send(url, attack);
      single.push({
        attack: attack.name,
        'body MiB': Number((attack.body.length / 2 ** 20).toFixed(2)),
        'server CPU ms each': Number(((cpuMs(pid) - cpuBefore) / REPEAT).toFixed(1)),
        'wall ms each': Number(((performance.now() - started) / REPEAT).toFixed(1)),
        outcome,
      });
    }
    console.table(single);

    // Quiet and attacked phases alternate, so that the rest of the machine weighs on both alike.
    const quiet: number[] = [];
    const loaded: number[] = [];
    // The gateway's CPU time and the wall time of each kind of phase, for its CPU share.
    const spent = { quiet: { cpu: 0, wall: 0 }, loaded: { cpu: 0, wall: 0 } };
    const timed = async <T>(into: { cpu: number; wall: number }, work: () => Promise<T>): Promise<T> => {
      const [cpu, wall] = [cpuMs(pid), performance.now()];
      const result = await work();
      into.cpu += cpuMs(pid) - cpu;
      into.wall += performance.now() - wall;
      return result;
    };
    const attacker = await startAttacker(url, conversationId);
    for (let phase = 0; phase < PHASES; phase += 1) {
      const quietToken = await tokenFor(`victim-quiet-${phase}`);
      quiet.push(...(await timed(spent.quiet, () => victimLatencies(url, quietToken, RUNS / PHASES))));
      const loadedToken = await tokenFor(`victim-loaded-${phase}`);
      attacker.attack();
      loaded.push(...(await timed(spent.loaded, () => victimLatencies(url, loadedToken, RUNS / PHASES))));
      attacker.pause();
    }
    const attacksSent = await attacker.stop();

    const quietP99 = percentile(quiet, 0.99);
    const loadedP99 = percentile(loaded, 0.99);
    const latency = {
      'quiet p50 ms': percentile(quiet, 0.5),
      'quiet p99 ms': quietP99,
      'under attack p50 ms': percentile(loaded, 0.5),
      'under attack p99 ms': loadedP99,
      'p99 ratio': Number((loadedP99 / Math.max(1, quietP99)).toFixed(2)),
      'attacks sent meanwhile': attacksSent,
      'gateway CPU % quiet / under attack': `${Math.round((100 * spent.quiet.cpu) / spent.quiet.wall)} / ${Math.round((100 * spent.loaded.cpu) / spent.loaded.wall)}`,
      'events timed (quiet / under attack)': `${quiet.length} / ${loaded.length}`,
    };
    console.table([latency]);
    await writeFile(
      new URL('./results/abuse.local.json', import.meta.url),
      `${JSON.stringify({ date: new Date().toISOString(), node: process.version, single, latency }, null, 2)}\n`,
    );
  } finally {
    await gateway.kill();
  }
}

if (options['attack-url'] && options['attack-conversation']) await attackOnCommand(options['attack-url'], options['attack-conversation']);
else await benchmark();
