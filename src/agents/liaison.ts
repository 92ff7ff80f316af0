import type { AgentContext, AgentDefinition } from './contract.ts';
import type { Pillar } from '../domain/product.ts';

/**
 * A built-in liaison does its pillar's work and says what it found. Alone, that streams as its
 * reply; consulted in a collaboration, the guide gets it to weave into a combined answer.
 */
export function defineLiaison(spec: {
  pillar: Pillar;
  name: string;
  description: string;
  analyze(context: AgentContext): Promise<string>;
}): AgentDefinition & { pillar: Pillar } {
  return {
    id: `liaison.${spec.pillar.toLowerCase()}`,
    kind: 'LIAISON',
    pillar: spec.pillar,
    name: spec.name,
    description: spec.description,
    async run(context) {
      await context.say(await spec.analyze(context));
    },
  };
}

/** The files a liaison should read: the attached ones, or the message itself when none are. */
export function sourcesOf(context: AgentContext): { name: string; content: string }[] {
  return context.files.length > 0 ? [...context.files] : [{ name: 'message', content: context.input.text }];
}

/** Earlier messages than the one being answered. */
export const earlierMessages = (context: AgentContext) => context.history.slice(0, -1);
