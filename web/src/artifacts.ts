/**
 * Artifacts as people expect to see them: a VISUALIZATION (a Vega-Lite spec) as a real chart,
 * a TABLE ({columns, rows}) as a table, an ANALYSIS as readable sections (structured.ts),
 * anything else as formatted JSON. The charting libraries
 * are bundled, and loaded when the first chart arrives.
 */
import { h, json, uniqueId } from './dom.ts';
import { renderStructured } from './structured.ts';
import type { AgentEvent } from './follower.ts';

type ArtifactEvent = Extract<AgentEvent, { __typename: 'AgentArtifact' }>;

export function renderArtifact(artifact: Pick<ArtifactEvent, 'artifactId' | 'kind' | 'title' | 'data'>): HTMLElement {
  const captionId = uniqueId('artifact');
  const caption = h('figcaption', { id: captionId }, artifact.title);
  const figure = h('figure', {
    class: `artifact artifact-${artifact.kind.toLowerCase()}`,
    'aria-labelledby': captionId,
    'data-artifact-id': artifact.artifactId,
  });
  switch (artifact.kind) {
    case 'VISUALIZATION': {
      // Vega makes the chart an accessible graphics document, with a description of its marks.
      const chart = h('div', { class: 'chart', 'aria-busy': 'true' });
      figure.append(caption, chart);
      void renderChart(chart, artifact.data);
      return figure;
    }
    case 'TABLE': {
      const table = asTable(artifact.data);
      if (table) {
        figure.append(
          caption,
          h(
            'div',
            { class: 'table-scroll' },
            h(
              'table',
              { 'aria-labelledby': captionId },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  table.columns.map((column) => h('th', { scope: 'col' }, column)),
                ),
              ),
              h(
                'tbody',
                {},
                table.rows.map((row) =>
                  h(
                    'tr',
                    {},
                    row.map((cell) => h('td', {}, formatCell(cell))),
                  ),
                ),
              ),
            ),
          ),
        );
        return figure;
      }
      break;
    }
    case 'ANALYSIS':
      figure.append(caption, renderStructured(withoutRepeatedTitle(artifact.data, artifact.title)));
      return figure;
    default:
      break;
  }
  figure.append(caption, h('pre', { class: 'json' }, json(artifact.data)));
  return figure;
}

async function renderChart(container: HTMLElement, spec: unknown): Promise<void> {
  try {
    const { default: embed } = await import('vega-embed');
    await embed(container, spec as never, { renderer: 'svg', actions: false, logLevel: 0 });
    container.dataset['rendered'] = 'true';
  } catch (error) {
    container.replaceChildren(h('p', { class: 'error' }, `The chart could not be drawn: ${(error as Error).message}`));
    container.dataset['rendered'] = 'error';
  } finally {
    container.setAttribute('aria-busy', 'false');
  }
}

function asTable(data: unknown): { columns: string[]; rows: unknown[][] } | null {
  if (typeof data !== 'object' || data === null) return null;
  const { columns, rows } = data as { columns?: unknown; rows?: unknown };
  if (!Array.isArray(columns) || !Array.isArray(rows) || !rows.every(Array.isArray)) return null;
  return { columns: columns.map(String), rows: rows as unknown[][] };
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The caption already shows the title that reports repeat in their data. */
function withoutRepeatedTitle(data: unknown, title: string): unknown {
  if (typeof data !== 'object' || data === null || (data as { title?: unknown }).title !== title) return data;
  const { title: _repeated, ...rest } = data as Record<string, unknown>;
  return rest;
}
