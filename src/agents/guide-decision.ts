/**
 * How the guide reads a message: which pillars it is about decides whether the guide answers
 * itself, hands off to one liaison, or has several collaborate. The words are documented in
 * the README; keep the two in step.
 */
import { PILLARS, type Pillar } from '../domain/product.ts';

export type GuideDecision = { mode: 'answer' } | { mode: 'handoff'; pillar: Pillar } | { mode: 'collaborate'; pillars: Pillar[] };

export const PILLAR_WORDS: Record<Pillar, RegExp> = {
  INSIGHTS: /\b(insights?|analy[sz]e[sd]?|analysis|analytics|trends?|data(set)?|statistics?|metrics?|charts?|csv)\b/i,
  JOURNEY: /\b(workflows?|sops?|process(es)?|journeys?|procedures?|onboarding|steps)\b/i,
  OUTCOMES: /\b(outcomes?|roi|business value|value|reports?|impact|kpis?|payback)\b/i,
  CONTENT: /\b(documents?|docs?|contents?|pars(e|es|ed|ing)|outline|files?)\b/i,
};

/** Collaborators speak in the pillars' order: content first, then what builds on it. */
const PILLAR_ORDER: readonly Pillar[] = PILLARS;

export function decide(text: string): GuideDecision {
  const pillars = PILLAR_ORDER.filter((pillar) => PILLAR_WORDS[pillar].test(text));
  const [only] = pillars;
  if (only === undefined) return { mode: 'answer' };
  if (pillars.length === 1) return { mode: 'handoff', pillar: only };
  return { mode: 'collaborate', pillars };
}
