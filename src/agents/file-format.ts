import { looksLikeCsv } from './tools/csv.ts';

/** What kind of text a file holds: by its name, else by whether its first lines look like CSV. */
export function formatOf(name: string, content: string): 'csv' | 'markdown' | 'text' {
  if (/\.csv$/i.test(name)) return 'csv';
  if (/\.(md|markdown)$/i.test(name)) return 'markdown';
  return looksLikeCsv(content) ? 'csv' : 'text';
}
