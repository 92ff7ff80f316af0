import type { AgentDefinition, AgentId } from './contract.ts';
import { guide } from './guide.ts';
import { LIAISONS } from './liaisons/index.ts';

/** Every built-in agent by id: the guide first, then the liaisons. */
export const AGENTS: ReadonlyMap<AgentId, AgentDefinition> = new Map(
  [guide, ...Object.values(LIAISONS)].map((agent) => [agent.id, agent]),
);
