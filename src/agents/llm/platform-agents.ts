/**
 * The guide and the four liaisons on a language model (LLM_BASE_URL and LLM_MODEL set): the same
 * ids, names and event grammar as the deterministic ones. Each liaison offers the model its
 * pillar's platform tools; the guide answers itself (taking in attached files), or decides with a
 * tool call to hand the message to one liaison or to have several collaborate, and then combines
 * what they found.
 */
import type { LanguageModel } from 'ai';
import type { AgentContext, AgentDefinition } from '../contract.ts';
import { defineAgent } from '../define.ts';
import { PLATFORM_ARTIFACTS } from '../platform-artifacts.ts';
import { guide } from '../guide.ts';
import { LIAISONS } from '../liaisons/index.ts';
import { PILLARS, type Pillar } from '../../domain/product.ts';
import { llmAgent } from './llm-agent.ts';
import { conversationMessages } from './messages.ts';
import { streamModel } from './stream-model.ts';

export interface ModelSettings {
  model: LanguageModel;
  maxSteps: number;
  maxRetries: number;
}

const PILLAR_TOOLS: Record<Pillar, readonly string[]> = {
  CONTENT: ['content.outline_document'],
  INSIGHTS: ['insights.profile_csv', 'insights.chart_spec'],
  JOURNEY: ['journey.extract_workflow'],
  OUTCOMES: ['outcomes.compose_report'],
};

const PLATFORM =
  'You work on a platform with four pillars: content (documents and files), insights (data and trends), ' +
  'journey (workflows and SOPs) and outcomes (ROI, business value and reports).';

export function llmPlatformAgents(settings: ModelSettings): AgentDefinition[] {
  const liaisons = PILLARS.map((pillar) => {
    const deterministic = LIAISONS[pillar];
    return llmAgent({
      ...settings,
      id: deterministic.id,
      kind: 'LIAISON',
      pillar,
      name: deterministic.name,
      description: deterministic.description,
      tools: PILLAR_TOOLS[pillar],
      artifacts: PLATFORM_ARTIFACTS,
      instructions:
        `${PLATFORM} You are its ${deterministic.name}: ${deterministic.description} ` +
        'Use your tools on the attached files by name (or on "message", the message itself), then answer from their results.',
    });
  });
  return [llmGuide(settings), ...liaisons];
}

const PILLAR_SCHEMA = { type: 'string', enum: PILLARS };

const ROUTING = {
  handoff: {
    description: 'Hand the message to the one liaison whose pillar it is about.',
    inputSchema: {
      type: 'object',
      properties: { pillar: PILLAR_SCHEMA, reason: { type: 'string' } },
      required: ['pillar', 'reason'],
      additionalProperties: false,
    },
  },
  collaborate: {
    description: 'Have several liaisons each give their view (a comparison, or a message naming several pillars).',
    inputSchema: {
      type: 'object',
      properties: { pillars: { type: 'array', items: PILLAR_SCHEMA, minItems: 2 }, reason: { type: 'string' } },
      required: ['pillars', 'reason'],
      additionalProperties: false,
    },
  },
};

function llmGuide(settings: ModelSettings): AgentDefinition {
  // Who the deterministic guide is, on a model.
  return defineAgent(guide, async (context) => {
    const decision = await streamModel(context, {
      model: settings.model,
      system:
        `${PLATFORM} You are its guide. Answer general questions yourself (take in attached files with files.ingest). ` +
        'When the message is about one pillar, call handoff; when it compares or names several, call collaborate.',
      messages: conversationMessages(context),
      tools: context.tools.filter((tool) => tool.name === 'files.ingest'),
      decisions: ROUTING,
      maxSteps: settings.maxSteps,
      maxRetries: settings.maxRetries,
    });
    if (decision?.name === 'handoff') {
      const { pillar, reason } = decision.input as { pillar: Pillar; reason: string };
      const liaison = context.agents.liaison(pillar);
      if (liaison) await context.delegate(liaison.id, reason);
    } else if (decision?.name === 'collaborate') {
      const { pillars, reason } = decision.input as { pillars: Pillar[]; reason: string };
      await collaborate(context, settings, pillars, reason);
    }
  });
}

/** Consults each pillar's liaison, then streams the model's combined answer. */
async function collaborate(context: AgentContext, settings: ModelSettings, pillars: readonly Pillar[], reason: string): Promise<void> {
  const findings: string[] = [];
  for (const pillar of PILLARS.filter((candidate) => pillars.includes(candidate))) {
    const liaison = context.agents.liaison(pillar);
    if (liaison) findings.push(`${liaison.name}:\n${await context.consult(liaison.id, `Collaboration (${reason}): the ${pillar.toLowerCase()} view.`)}`);
  }
  await context.think('Combining what the liaisons found.');
  await streamModel(context, {
    model: settings.model,
    system: `${PLATFORM} You are its guide. Combine the liaisons' findings into one answer to the user's message.`,
    messages: [...conversationMessages(context), { role: 'user', content: `The liaisons found:\n\n${findings.join('\n\n')}` }],
    tools: [],
    maxSteps: 1,
    maxRetries: settings.maxRetries,
  });
}
