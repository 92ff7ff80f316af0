import type { Pillar } from '../../domain/product.ts';
import type { AgentDefinition } from '../contract.ts';
import { contentLiaison } from './content.ts';
import { insightsLiaison } from './insights.ts';
import { journeyLiaison } from './journey.ts';
import { outcomesLiaison } from './outcomes.ts';

export const LIAISONS: Record<Pillar, AgentDefinition> = {
  CONTENT: contentLiaison,
  INSIGHTS: insightsLiaison,
  JOURNEY: journeyLiaison,
  OUTCOMES: outcomesLiaison,
};
