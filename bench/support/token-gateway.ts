/**
 * The gateway the agent-overhead benchmark measures, as its own process (so that its CPU time
 * is its own): the settings' agents (the liaisons on LLM_MODEL) plus `bench.tokens`, a
 * deterministic agent that streams as many word tokens as its message asks ("tokens N") through
 * the same `say` the built-in agents use. Like the process entries, it traces when an OTLP
 * endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT: bench/tracing.ts).
 */
import { startServer, startTracing, type AgentDefinition } from '../../src/index.ts';

const tokens: AgentDefinition = {
  id: 'bench.tokens',
  kind: 'LIAISON',
  pillar: null,
  name: 'Tokens',
  description: 'Streams N word tokens, deterministically.',
  async run(context) {
    const count = Number(/tokens (\d+)/.exec(context.input.text)?.[1] ?? 0);
    await context.say(Array.from({ length: count }, (_, index) => `t${index} `).join(''));
  },
};

const tracing = await startTracing('agent-gateway');
const server = await startServer({ agents: [tokens] });
process.once('SIGTERM', () => {
  void server
    .close()
    .then(() => tracing?.shutdown())
    .then(() => process.exit(0));
});
