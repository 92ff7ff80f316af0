/**
 * What the LLM adapter costs the gateway: events per server CPU-second for runs of a liaison on
 * a model streaming 1,000 tokens (through the AI SDK, from a local OpenAI-compatible server),
 * against runs of a deterministic agent streaming the same 1,000 tokens through `say`, measured
 * in the same run and reported as a ratio. The gateway runs as its own process and its CPU time
 * is read from /proc; the model server and the clients run here, outside the measurement.
 * Usage: npm run bench:agents [-- --tokens 1000 --runs 5 --rounds 4]
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { EventRecorder, SEND, tokenFor, userClient, wsClient } from '../test/support/clients.ts';
import { startFakeLlm } from '../test/support/fake-llm.ts';
import { freePort, spawnGateway, waitForHealthy } from '../test/support/process.ts';
import { cpuSeconds } from './support/cpu.ts';
import { benchGatewaySettings } from './support/gateway-settings.ts';

const { values: options } = parseArgs({
  options: {
    tokens: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '4' },
  },
});
const tokens = Number(options.tokens);

const llm = await startFakeLlm();
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const gateway = spawnGateway(
  {
    ...benchGatewaySettings(port),
    LLM_BASE_URL: llm.url,
    LLM_MODEL: 'bench-model',
  },
  'bench/support/token-gateway.ts',
);

interface Phase {
  name: string;
  target: Record<string, unknown>;
  events: number;
  cpu: number;
}
const phases: Phase[] = [
  { name: `built-in path (say), ${tokens} tokens`, target: { kind: 'LIAISON', agentId: 'bench.tokens' }, events: 0, cpu: 0 },
  { name: `LLM adapter (AI SDK), ${tokens} tokens`, target: { kind: 'LIAISON', pillar: 'INSIGHTS' }, events: 0, cpu: 0 },
];

/** Sends `runs` runs one after another and follows each to its end; returns the events received. */
async function runSequence(token: string, target: Record<string, unknown>, runs: number): Promise<number> {
  let events = 0;
  for (let run = 0; run < runs; run += 1) {
    const sent = (await userClient(url, token)(SEND, { input: { text: `tokens ${tokens}`, target } })).data.sendAgentMessage;
    const client = wsClient(url, token);
    const recorder = new EventRecorder(client, { conversationId: sent.conversation.id, afterSeq: sent.afterSeq });
    const received = await recorder.untilTerminals(1);
    if (received.at(-1)?.__typename !== 'AgentCompleted') throw new Error(`a run ended ${JSON.stringify(received.at(-1))}`);
    events += received.length;
    recorder.stop();
    await client.dispose();
  }
  return events;
}

try {
  await waitForHealthy(url, gateway);
  const token = await tokenFor('bench-agents');
  const pid = gateway.child.pid!;
  for (const phase of phases) await runSequence(token, phase.target, 1); // warm up both paths
  // Alternating rounds, so that whatever else the machine does weighs on both alike.
  for (let round = 0; round < Number(options.rounds); round += 1) {
    for (const phase of phases) {
      const before = await cpuSeconds(pid);
      phase.events += await runSequence(token, phase.target, Number(options.runs));
      phase.cpu += (await cpuSeconds(pid)) - before;
    }
  }
} finally {
  await gateway.kill();
  await llm.close();
}

const [builtIn, adapter] = phases.map((phase) => ({ ...phase, eventsPerCpuSecond: phase.events / phase.cpu }));
const report = {
  date: new Date().toISOString(),
  node: process.version,
  tokensPerRun: tokens,
  phases: [builtIn!, adapter!].map(({ name, events, cpu, eventsPerCpuSecond }) => ({ name, events, cpuSeconds: cpu, eventsPerCpuSecond })),
  /** Below 1: the adapter costs more server CPU per event than the built-in path. */
  adapterVsBuiltIn: Number((adapter!.eventsPerCpuSecond / builtIn!.eventsPerCpuSecond).toFixed(2)),
};
console.table(report.phases.map((phase) => ({ ...phase, cpuSeconds: phase.cpuSeconds.toFixed(2), eventsPerCpuSecond: Math.round(phase.eventsPerCpuSecond) })));
console.log(`LLM adapter vs built-in path, events per server CPU-second: ${report.adapterVsBuiltIn}`);
await writeFile(new URL('./results/agent-overhead.local.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
