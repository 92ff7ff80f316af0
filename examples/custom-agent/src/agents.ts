/**
 * Three agents of three kinds: one written here in TypeScript, one on a language model, one
 * running elsewhere behind an AG-UI endpoint. The gateway gives them all the same things:
 * ordered, resumable event streams, idempotent sends, cancel, and workers.
 */
import { AgentError, agUiAgent, llmAgent, openAICompatibleModel, type AgentDefinition } from 'agent-gateway';

/** The five-minute agent: a function over the context the gateway gives it. */
export const echo: AgentDefinition = {
  id: 'echo',
  kind: 'LIAISON',
  pillar: null,
  name: 'Echo',
  description: 'Says back what it was told.',
  async run(context) {
    const text = context.input.text.trim();
    // An AgentError ends the run with exactly this code, message and retryable flag.
    if (text.toLowerCase() === 'silence') throw new AgentError('NOTHING_TO_ECHO', 'Silence cannot be echoed.', false);
    await context.think(`Echoing ${text.length} characters.`);
    await context.say(`You said: ${text}`);
  },
};

/** The agents this application adds: the echo agent always, the others when configured. */
export function applicationAgents(env: NodeJS.ProcessEnv): AgentDefinition[] {
  const agents = [echo];
  if (env['WRITER_BASE_URL']) {
    agents.push(
      llmAgent({
        id: 'writer',
        name: 'Writer',
        description: 'Writes short answers with a language model.',
        model: openAICompatibleModel({ baseURL: env['WRITER_BASE_URL'], model: env['WRITER_MODEL'] ?? 'llama3.2', apiKey: env['WRITER_API_KEY'] }),
        instructions: 'You write short, friendly answers.',
        tools: ['files.ingest'],
      }),
    );
  }
  if (env['RESEARCH_AGENT_URL']) {
    agents.push(agUiAgent({ id: 'research', name: 'Research', description: 'A research agent served over AG-UI.', url: env['RESEARCH_AGENT_URL'] }));
  }
  return agents;
}
