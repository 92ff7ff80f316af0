/**
 * Which agent gets a message: an explicit target wins; otherwise the surface decides. The guide
 * and the pillars' liaisons are whichever the registry holds. (The guide may then hand the
 * message on; that decision is the guide's own, in agents/.)
 */
import type { AgentDirectory } from '../agents/contract.ts';
import type { AgentId, AgentKind, Pillar, Surface } from '../domain/product.ts';
import { badInput } from '../errors.ts';

export interface AgentTarget {
  kind: AgentKind;
  pillar?: Pillar | null;
  /** Any registered agent; wins over kind and pillar. */
  agentId?: string | null;
}

export function routeMessage(agents: AgentDirectory, target: AgentTarget | null | undefined, surface: Surface): AgentId {
  if (target?.agentId != null) {
    if (!agents.get(target.agentId)) throw badInput(`There is no agent "${target.agentId}"; Query.agents lists them.`, 'target.agentId');
    return target.agentId;
  }
  if (target) {
    if (target.kind === 'GUIDE') {
      if (target.pillar) throw badInput('A GUIDE target takes no pillar: there is one guide.', 'target.pillar');
      return required(agents.guide(), 'No guide is registered.', 'target.kind');
    }
    if (!target.pillar) throw badInput('A LIAISON target needs a pillar.', 'target.pillar');
    return required(agents.liaison(target.pillar), `No liaison is registered for ${target.pillar}.`, 'target.pillar');
  }
  if (surface === 'HOME') return required(agents.guide(), 'No guide is registered; name an agent in target.agentId.', 'surface');
  // A pillar without a liaison of its own goes to the guide, which can still answer.
  const agent = agents.liaison(surface) ?? agents.guide();
  return required(agent, `No agent is registered for ${surface}; name one in target.agentId.`, 'surface');
}

function required(agent: { id: AgentId } | undefined, message: string, field: string): AgentId {
  if (!agent) throw badInput(message, field);
  return agent.id;
}
