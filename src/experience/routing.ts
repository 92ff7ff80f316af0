/**
 * Which agent gets a message: an explicit target wins; otherwise the surface decides.
 * (The guide may then hand the message on; that decision is the guide's own, in agents/.)
 */
import type { AgentId } from '../agents/contract.ts';
import { badInput } from '../errors.ts';
import type { Pillar, Surface } from '../store/types.ts';

export interface AgentTarget {
  kind: 'GUIDE' | 'LIAISON';
  pillar?: Pillar | null;
}

export const liaisonOf = (pillar: Pillar): AgentId => `liaison.${pillar.toLowerCase()}` as AgentId;

export function routeMessage(target: AgentTarget | null | undefined, surface: Surface): AgentId {
  if (target) {
    if (target.kind === 'GUIDE') {
      if (target.pillar) throw badInput('A GUIDE target takes no pillar: there is one guide.', 'target.pillar');
      return 'guide';
    }
    if (!target.pillar) throw badInput('A LIAISON target needs a pillar.', 'target.pillar');
    return liaisonOf(target.pillar);
  }
  return surface === 'HOME' ? 'guide' : liaisonOf(surface);
}
