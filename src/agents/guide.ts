/**
 * The guide: the platform's concierge. It reads each message and answers it itself (taking in
 * attached files as tool calls), hands it to the one liaison it is about, or has several
 * liaisons collaborate and combines what they found.
 */
import type { AgentContext, AgentDefinition } from './contract.ts';
import { decide } from './guide-decision.ts';
import { earlierMessages } from './liaison.ts';
import type { Pillar } from '../domain/product.ts';

export const guide: AgentDefinition = {
  id: 'guide',
  kind: 'GUIDE',
  pillar: null,
  name: 'Guide',
  description: 'Your concierge for the whole platform: answers directly or brings in the right liaisons.',
  async run(context) {
    await context.think('Reading your message to decide who should answer.');
    const decision = decide(context.input.text);
    // The liaisons are whichever the registry holds for each pillar (an application may replace them).
    const liaisons = (decision.mode === 'handoff' ? [decision.pillar] : decision.mode === 'collaborate' ? decision.pillars : [])
      .map((pillar) => ({ pillar, liaison: context.agents.liaison(pillar) }))
      .filter((entry): entry is { pillar: Pillar; liaison: AgentDefinition } => entry.liaison !== undefined);
    if (decision.mode === 'handoff' && liaisons[0]) {
      const { pillar, liaison } = liaisons[0];
      await context.delegate(liaison.id, `The message is about ${pillar.toLowerCase()}.`);
      return;
    }
    if (decision.mode === 'collaborate' && liaisons.length > 0) {
      const findings: string[] = [];
      for (const { pillar, liaison } of liaisons) {
        findings.push(`${liaison.name}:\n${await context.consult(liaison.id, `Collaboration: the ${pillar.toLowerCase()} view.`)}`);
      }
      await context.think('Combining what the liaisons found.');
      const names = liaisons.map(({ pillar }) => pillar.toLowerCase()).join(', ');
      await context.say(`Here is the combined view from ${names}.\n\n${findings.join('\n\n')}`);
      return;
    }
    await answerDirectly(context);
  },
};

async function answerDirectly(context: AgentContext): Promise<void> {
  const intake: string[] = [];
  for (const file of context.files) {
    await context.pause();
    const facts = await context.callTool<{ name: string; bytes: number; lines: number; format: string }>('files.ingest', {
      name: file.name,
    });
    intake.push(`${facts.name} (${facts.format}, ${facts.lines} lines, ${facts.bytes} bytes)`);
  }
  const earlier = earlierMessages(context).length;
  const parts = [
    intake.length > 0 ? `I have taken in ${intake.join(' and ')}.` : 'Hello! I am the guide.',
    'Ask about documents or files (content), data and trends (insights), workflows and SOPs (journey),',
    'or ROI and reports (outcomes), and I will bring in the right liaison, or several to compare.',
  ];
  if (earlier > 0) parts.push(`We have ${earlier} earlier message${earlier === 1 ? '' : 's'} in this conversation.`);
  await context.say(parts.join(' '));
}
