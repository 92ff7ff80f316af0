/**
 * The agents a gateway (and its workers) can run, by id. The built-ins are its default contents;
 * an application adds its own, replaces a built-in by registering its id again, or replaces the
 * whole set. Routing takes the guide and the pillar liaisons from here.
 */
import { type AgentDefinition, type AgentDirectory } from './contract.ts';
import { AGENT_ID_PATTERN, AGENT_KINDS, PILLARS, type AgentId, type Pillar } from '../domain/product.ts';

/**
 * What an application passes as `agents`: a list adds to the defaults (an agent with a default's
 * id takes its place); a function gets the defaults and returns the whole set.
 */
export type AgentsOption = readonly AgentDefinition[] | ((defaults: readonly AgentDefinition[]) => readonly AgentDefinition[]);

export class AgentRegistry implements AgentDirectory {
  private readonly byId = new Map<AgentId, AgentDefinition>();

  constructor(agents: readonly AgentDefinition[]) {
    for (const agent of agents) {
      assertValidAgent(agent);
      if (this.byId.has(agent.id)) throw new Error(`Agent id "${agent.id}" is registered twice.`);
      this.byId.set(agent.id, agent);
    }
  }

  /** `defaults` with the application's `option` applied. */
  static compose(defaults: readonly AgentDefinition[], option: AgentsOption | undefined): AgentRegistry {
    if (option === undefined) return new AgentRegistry(defaults);
    if (typeof option === 'function') return new AgentRegistry(option(defaults));
    const replaced = new Set(option.map((agent) => agent.id));
    return new AgentRegistry([...defaults.filter((agent) => !replaced.has(agent.id)), ...option]);
  }

  get(id: AgentId): AgentDefinition | undefined {
    return this.byId.get(id);
  }

  list(): readonly AgentDefinition[] {
    return [...this.byId.values()];
  }

  guide(): AgentDefinition | undefined {
    return this.list().find((agent) => agent.kind === 'GUIDE');
  }

  liaison(pillar: Pillar): AgentDefinition | undefined {
    return this.list().find((agent) => agent.kind === 'LIAISON' && agent.pillar === pillar);
  }
}

/** What an agent's pillar may be: one of the pillars, or none. */
const AGENT_PILLARS: readonly (Pillar | null)[] = [...PILLARS, null];

function assertValidAgent(agent: AgentDefinition): void {
  if (typeof agent.id !== 'string' || !AGENT_ID_PATTERN.test(agent.id)) {
    throw new Error(`Agent id ${JSON.stringify(agent.id)} must match ${AGENT_ID_PATTERN}.`);
  }
  if (!AGENT_KINDS.includes(agent.kind)) throw new Error(`Agent "${agent.id}": kind must be ${AGENT_KINDS.join(' or ')}.`);
  if (!AGENT_PILLARS.includes(agent.pillar ?? null)) throw new Error(`Agent "${agent.id}": pillar must be one of ${AGENT_PILLARS.join(', ')}.`);
  if (typeof agent.run !== 'function') throw new Error(`Agent "${agent.id}" has no run function.`);
}
