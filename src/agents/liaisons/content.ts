import type { DocumentOutline } from '../tools/document.ts';
import { defineLiaison, sourcesOf } from '../liaison.ts';
import { outlineAnalysis, show } from '../platform-artifacts.ts';

export const contentLiaison = defineLiaison({
  pillar: 'CONTENT',
  name: 'Content liaison',
  description: 'Parses documents and files: outlines, headings, summaries and key terms.',
  async analyze(context) {
    const sources = sourcesOf(context);
    await context.think(`Reading ${sources.length === 1 ? sources[0]!.name : `${sources.length} documents`}.`);
    const sections: string[] = [];
    for (const source of sources) {
      await context.pause();
      const outline = await context.callTool<DocumentOutline>('content.outline_document', { name: source.name });
      await show(context, outlineAnalysis(outline));
      sections.push(describeOutline(outline));
    }
    return sections.join('\n\n');
  },
});

function describeOutline(outline: DocumentOutline): string {
  const lines = [`"${outline.title}" (${outline.name}) has ${outline.wordCount} words on ${outline.lineCount} lines.`];
  if (outline.headings.length > 0) {
    lines.push('Outline:');
    for (const heading of outline.headings) lines.push(`${'  '.repeat(Math.max(0, heading.level - 1))}- ${heading.text}`);
  }
  if (outline.summary.length > 0) lines.push(`In short: ${outline.summary.join(' ')}`);
  if (outline.keyTerms.length > 0) lines.push(`Key terms: ${outline.keyTerms.join(', ')}.`);
  return lines.join('\n');
}
