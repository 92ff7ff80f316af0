import type { WorkflowStep } from '../tools/workflow.ts';
import { defineLiaison, sourcesOf } from '../liaison.ts';
import { workflowTable, show } from '../platform-artifacts.ts';

export const journeyLiaison = defineLiaison({
  pillar: 'JOURNEY',
  name: 'Journey liaison',
  description: 'Turns SOPs and process descriptions into workflow steps with actors.',
  async analyze(context) {
    const sections: string[] = [];
    for (const source of sourcesOf(context)) {
      await context.think(`Looking for the steps in ${source.name}.`);
      await context.pause();
      const steps = await context.callTool<WorkflowStep[]>('journey.extract_workflow', { name: source.name });
      if (steps.length === 0) {
        sections.push(`I found no steps in ${source.name}; number them or start lines with "-" and I will map them.`);
        continue;
      }
      await show(context, workflowTable(source.name, steps));
      const lines = steps.map((step) => `${step.step}. ${step.action}${step.actor ? ` (${step.actor})` : ''}`);
      sections.push([`The workflow in ${source.name} has ${steps.length} steps:`, ...lines].join('\n'));
    }
    return sections.join('\n\n');
  },
});
