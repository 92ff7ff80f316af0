import type { AgentContext, AgentDefinition } from './contract.ts';
import type { AgentKind, Pillar } from '../domain/product.ts';

/** Who an agent is, as an adapter's options give it: a liaison of no pillar unless told otherwise. */
export interface AgentIdentity {
  id: string;
  name: string;
  description: string;
  kind?: AgentKind;
  pillar?: Pillar | null;
}

export function defineAgent(identity: AgentIdentity, run: (context: AgentContext) => Promise<void>): AgentDefinition {
  return {
    id: identity.id,
    kind: identity.kind ?? 'LIAISON',
    pillar: identity.pillar ?? null,
    name: identity.name,
    description: identity.description,
    run,
  };
}
