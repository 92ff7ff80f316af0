/** A worker for the application's gateways (RUN_EXECUTION=workers): the same agents, so it can run any of their runs. */
import { startWorker } from 'agent-gateway';
import { applicationAgents } from './agents.ts';

const worker = await startWorker({ agents: applicationAgents(process.env) });
console.log(`custom-agent example worker serving health on ${worker.url}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void worker.stop().then(() => process.exit(0)));
}
