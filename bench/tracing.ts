/**
 * What tracing costs the gateway: events per server CPU-second for the same runs (the
 * deterministic `bench.tokens` agent streaming N tokens, sent over HTTP with a client's
 * traceparent and followed over graphql-ws) on three gateways side by side, in alternating
 * rounds of one run so that whatever else the machine does weighs on all alike:
 *   before  the code before tracing (`--before <commit>`, exported with git archive to a folder
 *           beside the node_modules here)
 *   off     this code without an OTLP endpoint (the default)
 *   on      this code exporting every span (OTLP/HTTP protobuf) to a receiver here that
 *           counts the requests and discards them
 * Each gateway is its own process and its CPU time is read from /proc; the clients and the
 * receiver run here, outside the measurement.
 * Usage: npx tsx bench/tracing.ts -- --before <commit> [--tokens 1000 --runs 5 --rounds 4]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventRecorder, SEND, tokenFor, wsClient } from '../test/support/clients.ts';
import { PROJECT_ROOT, freePort, spawnProcess, waitForHealthy, type ServerProcess } from '../test/support/process.ts';
import { cpuSeconds } from './support/cpu.ts';
import { benchGatewaySettings } from './support/gateway-settings.ts';

const { values: options } = parseArgs({
  options: {
    before: { type: 'string' },
    tokens: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '4' },
  },
});
if (!options.before) throw new Error('Say which commit is "before": --before <commit>.');
const tokens = Number(options.tokens);
const AGENT = 'bench.tokens';
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

// The code before, as files only, resolving its packages through this checkout's node_modules.
const beforeRoot = mkdtempSync(join(tmpdir(), 'agw-before-'));
execFileSync('sh', ['-c', `git archive ${options.before} src bench/support package.json | tar -x -C ${beforeRoot}`], { cwd: PROJECT_ROOT });
symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(beforeRoot, 'node_modules'));

// The OTLP receiver: counts export requests, keeps nothing.
let exports = 0;
const receiver = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    exports += 1;
    response.writeHead(200, { 'content-type': 'application/x-protobuf' });
    response.end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

interface Phase {
  name: string;
  url: string;
  process: ServerProcess;
  events: number;
  cpu: number;
}

async function startGateway(name: string, root: string, env: Record<string, string> = {}): Promise<Phase> {
  const port = await freePort();
  const settings = {
    ...benchGatewaySettings(port),
  };
  const process = spawnProcess(globalThis.process.execPath, ['--import', 'tsx', 'bench/support/token-gateway.ts'], { ...settings, ...env }, false, root);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealthy(url, process);
  return { name, url, process, events: 0, cpu: 0 };
}

/** One run sent (with a client's traceparent) and followed to its end; resolves with the events received. */
async function follow(url: string, token: string): Promise<number> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, traceparent: TRACEPARENT },
    body: JSON.stringify({ query: SEND, variables: { input: { text: `tokens ${tokens}`, target: { kind: 'LIAISON', agentId: AGENT } } } }),
  });
  const sent = ((await response.json()) as { data: { sendAgentMessage: { conversation: { id: string }; afterSeq: number } } }).data.sendAgentMessage;
  const client = wsClient(url, token);
  const recorder = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq });
  const received = await recorder.untilTerminals(1);
  if (received.at(-1)?.__typename !== 'AgentCompleted') throw new Error(`a run ended ${JSON.stringify(received.at(-1))}`);
  recorder.stop();
  await client.dispose();
  return received.length;
}

const phases: Phase[] = [];
try {
  phases.push(
    await startGateway('before', beforeRoot),
    await startGateway('off', PROJECT_ROOT),
    await startGateway('on', PROJECT_ROOT, { OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl, OTEL_BSP_SCHEDULE_DELAY: '100' }),
  );
  const token = await tokenFor('bench-tracing');
  for (const phase of phases) await follow(phase.url, token); // warm up every path
  for (let round = 0; round < Number(options.rounds); round += 1) {
    for (const phase of phases) {
      for (let run = 0; run < Number(options.runs); run += 1) {
        const pid = phase.process.child.pid!;
        const before = await cpuSeconds(pid);
        phase.events += await follow(phase.url, token);
        phase.cpu += (await cpuSeconds(pid)) - before;
      }
    }
  }
} finally {
  await Promise.all(phases.map((phase) => phase.process.kill()));
  receiver.close();
  rmSync(beforeRoot, { recursive: true, force: true });
}
if (exports === 0) throw new Error('the traced gateway exported nothing: the "on" figures would measure tracing off');

const baseline = phases[0]!.events / phases[0]!.cpu;
const report = {
  date: new Date().toISOString(),
  node: process.version,
  before: options.before,
  tokensPerRun: tokens,
  otlpExportRequests: exports,
  phases: phases.map(({ name, events, cpu }) => ({
    name,
    events,
    cpuSeconds: Number(cpu.toFixed(2)),
    eventsPerCpuSecond: Math.round(events / cpu),
    /** Below 1: fewer events per server CPU-second than the code before tracing. */
    vsBefore: Number((events / cpu / baseline).toFixed(3)),
  })),
};
console.table(report.phases);
await writeFile(new URL('./results/tracing.local.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
