/**
 * Structured data (an ANALYSIS artifact: an outcomes report, a document outline) as a reader
 * would lay it out rather than as JSON: named values as a list of terms, lists of
 * {heading, body} as sections, other lists of records as tables, lists of values as lists, and
 * nested records as titled subsections. Keys become labels ("keyTerms" reads "Key terms").
 */
import { h } from './dom.ts';

type Primitive = string | number | boolean | null;

export function renderStructured(data: unknown, depth = 0): HTMLElement {
  if (isRecord(data)) return recordView(data, depth);
  if (Array.isArray(data)) return listView(data, depth);
  return h('p', {}, formatValue(data as Primitive));
}

function recordView(record: Record<string, unknown>, depth: number): HTMLElement {
  const container = h('div', { class: 'structured' });
  const terms = h('dl', {});
  for (const [key, value] of Object.entries(record)) {
    if (isPrimitive(value)) {
      terms.append(h('dt', {}, labelOf(key)), h('dd', {}, formatValue(value)));
      continue;
    }
    if (Array.isArray(value) && value.length === 0) continue;
    container.append(h('section', {}, h(depth === 0 ? 'h4' : 'h5', {}, labelOf(key)), renderStructured(value, depth + 1)));
  }
  if (terms.childElementCount > 0) container.prepend(terms);
  return container;
}

function listView(items: unknown[], depth: number): HTMLElement {
  if (items.every(isPrimitive))
    return h(
      'ul',
      {},
      items.map((item) => h('li', {}, formatValue(item))),
    );
  const records = items.filter(isRecord);
  if (records.length === items.length) {
    if (records.every(isSection)) {
      return h(
        'div',
        { class: 'sections' },
        records.map((section) => h('section', {}, h(depth === 0 ? 'h4' : 'h5', {}, String(section['heading'])), h('p', {}, String(section['body'])))),
      );
    }
    if (records.every((record) => Object.values(record).every(isPrimitive))) return tableView(records);
  }
  return h(
    'ol',
    {},
    items.map((item) => h('li', {}, renderStructured(item, depth + 1))),
  );
}

function tableView(records: Record<string, unknown>[]): HTMLElement {
  const columns = [...new Set(records.flatMap((record) => Object.keys(record)))];
  return h(
    'div',
    { class: 'table-scroll' },
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((column) => h('th', { scope: 'col' }, labelOf(column))),
        ),
      ),
      h(
        'tbody',
        {},
        records.map((record) =>
          h(
            'tr',
            {},
            columns.map((column) => h('td', {}, formatValue((record[column] ?? null) as Primitive))),
          ),
        ),
      ),
    ),
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isPrimitive = (value: unknown): value is Primitive => value === null || ['string', 'number', 'boolean'].includes(typeof value);
const isSection = (record: Record<string, unknown>) =>
  Object.keys(record).length === 2 && typeof record['heading'] === 'string' && typeof record['body'] === 'string';

/** "keyTerms", "word_count" → "Key terms", "Word count". */
function labelOf(key: string): string {
  const words = key
    .replace(/([a-z\d])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function formatValue(value: Primitive): string {
  if (value === null) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  return value;
}
