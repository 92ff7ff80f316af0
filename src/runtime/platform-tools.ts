/**
 * The platform tools the built-in agents call (and the LLM agents offer their model). Each reads
 * a source by name: an attached file, or "message" for the text being answered.
 */
import { chartSpecFor, profileCsv, trendOf } from '../agents/tools/csv.ts';
import { outlineDocument } from '../agents/tools/document.ts';
import { composeReport } from '../agents/tools/report.ts';
import { extractWorkflow } from '../agents/tools/workflow.ts';
import { formatOf } from '../agents/file-format.ts';
import type { ToolDefinition, ToolScope } from './tools.ts';

function sourceText(args: Record<string, unknown>, scope: ToolScope): { name: string; content: string } {
  const name = typeof args['name'] === 'string' ? args['name'] : 'message';
  const file = scope.files.find((candidate) => candidate.name === name);
  if (file) return file;
  if (name === 'message') return { name, content: scope.history.at(-1)?.text ?? '' };
  throw new Error(`no attached file named ${JSON.stringify(name)}`);
}

const SOURCE_INPUT = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'The name of an attached file, or "message" for the message being answered.' },
  },
  required: ['name'],
  additionalProperties: false,
};

const readSource = (name: string, description: string, work: (source: { name: string; content: string }) => unknown): ToolDefinition => ({
  name,
  description,
  inputSchema: SOURCE_INPUT,
  execute: (args, scope) => work(sourceText(args, scope)),
});

export const PLATFORM_TOOLS: readonly ToolDefinition[] = [
  readSource('files.ingest', 'Takes in an attached file: its size, lines and format.', ({ name, content }) => ({
    name,
    bytes: Buffer.byteLength(content, 'utf8'),
    lines: content === '' ? 0 : content.split(/\r?\n/).length,
    format: formatOf(name, content),
  })),
  readSource('content.outline_document', 'Parses a document into a title, headings, summary and key terms.', (source) =>
    outlineDocument(source.name, source.content),
  ),
  readSource(
    'insights.profile_csv',
    'Profiles CSV data: per-column type, counts, missing values, min, max and mean, and the trend over its dates.',
    (source) => ({ ...profileCsv(source.content), trend: trendOf(source.content) }),
  ),
  readSource('insights.chart_spec', 'Proposes a Vega-Lite chart for CSV data.', (source) => chartSpecFor(source.name, source.content)),
  readSource('journey.extract_workflow', 'Turns an SOP or process description into numbered workflow steps.', (source) => extractWorkflow(source.content)),
  {
    name: 'outcomes.compose_report',
    description: 'Composes a business-outcomes report from the conversation and the attached files.',
    inputSchema: {
      type: 'object',
      properties: { question: { type: 'string', description: 'What the report should answer; defaults to the message.' } },
      additionalProperties: false,
    },
    execute: (args, scope) =>
      composeReport({
        question: typeof args['question'] === 'string' ? args['question'] : (scope.history.at(-1)?.text ?? ''),
        history: scope.history.map(({ role, text, agentId }) => ({ role, text, agentId })),
        files: [...scope.files],
      }),
  },
];
