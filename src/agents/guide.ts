/**
 * The guide: the platform's concierge. It reads each message and answers it itself (taking in
 * attached files as tool calls), hands it to the one liaison it is about, or has several
 * liaisons collaborate and combines what they found.
 */
import type { AgentContext, AgentDefinition } from './contract.ts';
import { decide } from './guide-decision.ts';
import { earlierMessages } from './liaison.ts';
import { LIAISONS } from './liaisons/index.ts';

export const guide: AgentDefinition = {
  id: 'guide',
  kind: 'GUIDE',
  pillar: null,
  name: 'Guide',
  description: 'Your concierge for the whole platform: answers directly or brings in the right liaisons.',
  async run(context) {
    await context.think('Reading your message to decide who should answer.');
    const decision = decide(context.input.text);
    if (decision.mode === 'handoff') {
      const liaison = LIAISONS[decision.pillar];
      const liaisonContext = await context.handoff(liaison.id, `The message is about ${decision.pillar.toLowerCase()}.`);
      await liaison.run(liaisonContext);
      return;
    }
    if (decision.mode === 'collaborate') {
      const findings: string[] = [];
      for (const pillar of decision.pillars) {
        const liaison = LIAISONS[pillar];
        const liaisonContext = await context.handoff(liaison.id, `Collaboration: the ${pillar.toLowerCase()} view.`);
        findings.push(`${liaison.name}:\n${await liaison.analyze(liaisonContext)}`);
      }
      await context.think('Combining what the liaisons found.');
      const names = decision.pillars.map((pillar) => pillar.toLowerCase()).join(', ');
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
