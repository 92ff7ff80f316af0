/** What kind of text a file holds: by its name, else by whether its first lines look like CSV. */
export function formatOf(name: string, content: string): 'csv' | 'markdown' | 'text' {
  if (/\.csv$/i.test(name)) return 'csv';
  if (/\.(md|markdown)$/i.test(name)) return 'markdown';
  const lines = content.split(/\r?\n/).filter((line) => line.trim() !== '').slice(0, 5);
  const commas = lines.map((line) => line.split(',').length);
  const looksTabular = lines.length >= 2 && commas[0]! > 1 && commas.every((count) => count === commas[0]);
  return looksTabular ? 'csv' : 'text';
}
