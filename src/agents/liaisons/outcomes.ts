import type { OutcomeReport } from '../tools/report.ts';
import { defineLiaison } from '../liaison.ts';
import { reportAnalysis, show } from '../platform-artifacts.ts';

export const outcomesLiaison = defineLiaison({
  pillar: 'OUTCOMES',
  name: 'Outcomes liaison',
  description: 'Composes business-outcome reports (figures, ROI, next steps) from the conversation.',
  async analyze(context) {
    await context.think(`Reviewing the ${context.history.length} messages of this conversation.`);
    await context.pause();
    const report = await context.callTool<OutcomeReport>('outcomes.compose_report', { question: context.input.text });
    await show(context, reportAnalysis(report));
    const lines = [report.title];
    for (const section of report.sections) lines.push(`${section.heading}: ${section.body}`);
    if (report.metrics.length > 0) {
      lines.push(`Figures: ${report.metrics.map((metric) => `${metric.label} ${metric.value}`).join('; ')}.`);
    }
    return lines.join('\n');
  },
});
