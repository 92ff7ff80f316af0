import { formatOf } from '../file-format.ts';
import type { CsvProfile, Trend } from '../tools/csv.ts';
import { defineLiaison, earlierMessages, sourcesOf } from '../liaison.ts';
import { chartVisualization, profileTable, show } from '../platform-artifacts.ts';

export const insightsLiaison = defineLiaison({
  pillar: 'INSIGHTS',
  name: 'Insights liaison',
  description: 'Profiles data (CSV): column types, counts, missing values, ranges and means, with a chart.',
  async analyze(context) {
    const datasets = sourcesOf(context).filter((source) => formatOf(source.name, source.content) === 'csv');
    if (datasets.length === 0) {
      await context.think('No tabular data attached; looking at the conversation instead.');
      const earlier = earlierMessages(context);
      return (
        `I profile tabular data: attach a CSV file (or paste comma-separated rows) and ask about it. ` +
        `So far this conversation has ${earlier.length} earlier message${earlier.length === 1 ? '' : 's'}.`
      );
    }
    const sections: string[] = [];
    for (const dataset of datasets) {
      await context.think(`Profiling ${dataset.name}.`);
      await context.pause();
      const profile = await context.callTool<CsvProfile & { trend: Trend | null }>('insights.profile_csv', {
        name: dataset.name,
      });
      await show(context, profileTable(dataset.name, profile));
      await context.pause();
      const spec = await context.callTool<Record<string, unknown>>('insights.chart_spec', { name: dataset.name });
      await show(context, chartVisualization(dataset.name, spec));
      sections.push([describeTrend(profile.trend), describeProfile(dataset.name, profile)].filter(Boolean).join('\n'));
    }
    return sections.join('\n\n');
  },
});

function describeProfile(name: string, profile: CsvProfile): string {
  const lines = [`${name} has ${profile.rowCount} rows and ${profile.columns.length} columns.`];
  for (const column of profile.columns) {
    const range = column.min === null ? '' : `, from ${column.min} to ${column.max}`;
    const mean = column.mean === null ? '' : `, mean ${column.mean}`;
    const missing = column.missing > 0 ? `, ${column.missing} missing` : '';
    lines.push(`- ${column.name} (${column.type}): ${column.count} values${missing}${range}${mean}.`);
  }
  return lines.join('\n');
}

/** The headline a person asks "what are the trends" for: where the number went, and its peak. */
function describeTrend(trend: Trend | null): string {
  if (!trend) return '';
  const direction = trend.change > 0 ? 'rose' : trend.change < 0 ? 'fell' : 'held steady';
  const percent = trend.changePercent === null ? '' : ` (${trend.changePercent > 0 ? '+' : ''}${trend.changePercent}%)`;
  const movement = trend.change === 0 ? `at ${trend.to.value}` : `from ${trend.from.value} to ${trend.to.value}${percent}`;
  const peak = trend.peak.at === trend.to.at ? 'ending at its peak' : `peaking at ${trend.peak.value} on ${trend.peak.at}`;
  return `Trend: ${trend.of} ${direction} ${movement} between ${trend.from.at} and ${trend.to.at}, ${peak}.`;
}
