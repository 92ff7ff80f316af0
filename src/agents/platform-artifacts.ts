/**
 * What the platform tools' results look like as artifacts: a CSV profile as a TABLE, a chart spec
 * as a VISUALIZATION, a workflow as a TABLE, an outline or a report as an ANALYSIS. The
 * deterministic liaisons and the liaisons on a model show the same artifacts for the same results.
 */
import type { ArtifactKind } from '../domain/events.ts';
import type { AgentContext } from './contract.ts';
import type { CsvProfile } from './tools/csv.ts';
import type { DocumentOutline } from './tools/document.ts';
import type { OutcomeReport } from './tools/report.ts';
import type { WorkflowStep } from './tools/workflow.ts';

export interface ArtifactSpec {
  kind: ArtifactKind;
  title: string;
  data: unknown;
}

/** Turns a tool's result (and the input it was called with) into an artifact, or none. */
export type ArtifactOf = (result: unknown, args: Record<string, unknown>) => ArtifactSpec | null;

/** Emits the artifact, if there is one. */
export async function show(context: AgentContext, artifact: ArtifactSpec | null): Promise<void> {
  if (artifact) await context.artifact(artifact.kind, artifact.title, artifact.data);
}

const sourceName = (args: Record<string, unknown>) => String(args['name'] ?? 'message');

export const profileTable = (name: string, profile: CsvProfile): ArtifactSpec => ({
  kind: 'TABLE',
  title: `Profile of ${name}`,
  data: {
    columns: ['column', 'type', 'count', 'missing', 'distinct', 'min', 'max', 'mean'],
    rows: profile.columns.map((column) => [column.name, column.type, column.count, column.missing, column.distinct, column.min, column.max, column.mean]),
  },
});

export const chartVisualization = (name: string, spec: unknown): ArtifactSpec => ({ kind: 'VISUALIZATION', title: `Chart of ${name}`, data: spec });

/** None for a source without steps: an empty table says nothing. */
export const workflowTable = (name: string, steps: readonly WorkflowStep[]): ArtifactSpec | null =>
  steps.length === 0
    ? null
    : {
        kind: 'TABLE',
        title: `Workflow from ${name}`,
        data: { columns: ['step', 'action', 'actor', 'notes'], rows: steps.map((step) => [step.step, step.action, step.actor, step.notes]) },
      };

export const outlineAnalysis = (outline: DocumentOutline): ArtifactSpec => ({ kind: 'ANALYSIS', title: `Outline of ${outline.title}`, data: outline });

export const reportAnalysis = (report: OutcomeReport): ArtifactSpec => ({ kind: 'ANALYSIS', title: report.title, data: report });

/** By tool name, for agents that call the platform tools through a model. */
export const PLATFORM_ARTIFACTS: Readonly<Record<string, ArtifactOf>> = {
  'insights.profile_csv': (result, args) => profileTable(sourceName(args), result as CsvProfile),
  'insights.chart_spec': (result, args) => chartVisualization(sourceName(args), result),
  'journey.extract_workflow': (result, args) => workflowTable(sourceName(args), result as WorkflowStep[]),
  'content.outline_document': (result) => outlineAnalysis(result as DocumentOutline),
  'outcomes.compose_report': (result) => reportAnalysis(result as OutcomeReport),
};
