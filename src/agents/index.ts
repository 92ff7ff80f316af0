import type { AgentDefinition } from './contract.ts';
import { guide } from './guide.ts';
import { LIAISONS } from './liaisons/index.ts';

/** The built-in deterministic agents: the guide first, then the liaisons. */
export const BUILT_IN_AGENTS: readonly AgentDefinition[] = [guide, ...Object.values(LIAISONS)];
