/**
 * The application: a gateway with its own agents beside the built-in ones. Settings come from
 * the environment as for `npm start` of the gateway (PORT, REDIS_URL, ...); with
 * RUN_EXECUTION=workers, run `src/worker.ts` too, which loads the same agents.
 */
import { startServer } from 'agent-gateway';
import { applicationAgents } from './agents.ts';

const server = await startServer({ agents: applicationAgents(process.env) });
console.log(`custom-agent example listening on ${server.url}`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void server.close().then(() => process.exit(0)));
}
