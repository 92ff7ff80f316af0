import type { AgentContext, AgentDefinition, AgentId } from './contract.ts';
import type { Pillar } from '../store/types.ts';

/**
 * A liaison does its pillar's work and returns what it found as text. Alone it streams that
 * text as its reply; in a collaboration the guide weaves it into a combined answer.
 */
export interface LiaisonDefinition extends AgentDefinition {
  kind: 'LIAISON';
  pillar: Pillar;
  analyze(context: AgentContext): Promise<string>;
}

export function defineLiaison(spec: {
  pillar: Pillar;
  name: string;
  description: string;
  analyze(context: AgentContext): Promise<string>;
}): LiaisonDefinition {
  return {
    id: `liaison.${spec.pillar.toLowerCase()}` as AgentId,
    kind: 'LIAISON',
    pillar: spec.pillar,
    name: spec.name,
    description: spec.description,
    analyze: spec.analyze,
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
