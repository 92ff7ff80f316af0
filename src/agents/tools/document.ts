/**
 * An outline of an attached text document: its headings, a few opening sentences and its most
 * frequent terms. Works on Markdown and on plain text that marks sections by numbering or capitals.
 */
import { splitSentences, topTerms, wordsOf } from './text.ts';

export interface DocumentHeading {
  level: number;
  text: string;
}

export interface DocumentOutline {
  name: string;
  /** The first level-1 heading, else the first heading, else the file name without extension. */
  title: string;
  headings: DocumentHeading[];
  wordCount: number;
  lineCount: number;
  /** Up to 3 opening sentences of the body (at least 4 words, not a lead-in ending in ":"). */
  summary: string[];
  /** Up to 8 most frequent non-stop-words, lowercased; ties broken alphabetically. */
  keyTerms: string[];
}

/** Longer lines read as prose, not as a numbered or capitalised heading. */
const SHORT_LINE = 80;
const SUMMARY_SENTENCES = 3;
const MIN_SUMMARY_WORDS = 4;
const KEY_TERMS = 8;

const ATX_HEADING = /^ {0,3}(#{1,6})[ \t]+(.*)$/;
const SETEXT_UNDERLINE = /^ {0,3}(={2,}|-{2,})[ \t]*$/;
const THEMATIC_BREAK = /^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$/;
const CODE_FENCE = /^ {0,3}(?:```|~~~)/;
const TABLE_ROW = /^\s*\|/;
const LIST_ITEM = /^\s*(?:[-*+•]|\d+[.)])\s+/;
/** "1. Scope", "1.2 Terms", "2.3.1 Title". */
const NUMBERED_HEADING = /^(\d{1,3}(?:\.\d{1,3})*)(\.?)\s+(\S.*)$/;
const CAPS_HEADING_CHARS = /^[\p{Lu}\p{N}\s&'’\-/,:()]+$/u;

export function outlineDocument(name: string, text: string): DocumentOutline {
  const lines = text.split(/\r\n|\r|\n/);
  // A final newline ends the last line rather than starting another one.
  if (lines.at(-1) === '') lines.pop();

  const { headings, paragraphs } = readStructure(lines);
  const title = (headings.find((heading) => heading.level === 1) ?? headings[0])?.text ?? nameWithoutExtension(name);
  const summary = paragraphs
    .flatMap(splitSentences)
    .filter((sentence) => wordsOf(sentence).length >= MIN_SUMMARY_WORDS && !sentence.endsWith(':'))
    .slice(0, SUMMARY_SENTENCES);
  const keyTerms = topTerms([...headings.map((heading) => heading.text), ...paragraphs].join('\n'), KEY_TERMS);

  return { name, title, headings, wordCount: wordsOf(text).length, lineCount: lines.length, summary, keyTerms };
}

/**
 * Headings, and the body as paragraphs of plain text (each list item its own paragraph). Code
 * blocks and tables are neither: a `# comment` in a shell snippet is not a section.
 */
function readStructure(lines: string[]): { headings: DocumentHeading[]; paragraphs: string[] } {
  const headings: DocumentHeading[] = [];
  const paragraphs: string[] = [];
  let paragraph: string[] = [];
  const endParagraph = (): void => {
    if (paragraph.length > 0) paragraphs.push(paragraph.join(' '));
    paragraph = [];
  };

  let inCode = false;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (CODE_FENCE.test(line)) {
      inCode = !inCode;
      endParagraph();
      continue;
    }
    if (inCode) continue;

    const next = lines[index + 1];
    const underline = next === undefined || !isParagraphText(line) ? null : SETEXT_UNDERLINE.exec(next);
    const heading = underline ? { level: underline[1]?.startsWith('=') ? 1 : 2, text: line.trim() } : headingOnLine(line);
    if (heading) {
      endParagraph();
      if (heading.text !== '') headings.push(heading);
      if (underline) index++;
    } else if (line.trim() === '' || THEMATIC_BREAK.test(line) || TABLE_ROW.test(line)) {
      endParagraph();
    } else {
      if (LIST_ITEM.test(line)) endParagraph();
      paragraph.push(plainText(line));
    }
  }
  endParagraph();
  return { headings, paragraphs };
}

function headingOnLine(line: string): DocumentHeading | null {
  const atx = ATX_HEADING.exec(line);
  if (atx) {
    // "## Title ##" may close with hashes, which are not part of the title.
    return { level: atx[1]?.length ?? 1, text: (atx[2] ?? '').replace(/(?:^|\s+)#+\s*$/, '').trim() };
  }
  const trimmed = line.trim();
  if (trimmed.length >= SHORT_LINE) return null;
  const level = numberedHeadingLevel(trimmed);
  if (level !== null) return { level, text: trimmed };
  return isCapsHeading(trimmed) ? { level: 1, text: trimmed } : null;
}

/**
 * The depth of "1." / "1.2" / "2.3.1 Title" headings. A bare number needs its dot ("2024 plans"
 * is not a section), and the title must start uppercase and not end like a sentence or a
 * lead-in, which tells a heading from an ordinary numbered list item.
 */
function numberedHeadingLevel(trimmed: string): number | null {
  const match = NUMBERED_HEADING.exec(trimmed);
  if (!match || /[.,;:]$/.test(trimmed)) return null;
  const [, number = '', dot, title = ''] = match;
  const depth = number.split('.').length;
  if (depth === 1 && dot !== '.') return null;
  return /^\p{Lu}/u.test(title) ? depth : null;
}

function isCapsHeading(trimmed: string): boolean {
  const capitals = trimmed.match(/\p{Lu}/gu)?.length ?? 0;
  return capitals >= 3 && !/\p{Ll}/u.test(trimmed) && CAPS_HEADING_CHARS.test(trimmed);
}

/** A line a setext underline can turn into a heading: ordinary text, not a list item or another block. */
function isParagraphText(line: string): boolean {
  return (
    line.trim() !== '' &&
    !ATX_HEADING.test(line) &&
    !LIST_ITEM.test(line) &&
    !TABLE_ROW.test(line) &&
    !THEMATIC_BREAK.test(line) &&
    !SETEXT_UNDERLINE.test(line)
  );
}

/** The words a reader sees: no quote, list or emphasis markers, links reduced to their text. */
function plainText(line: string): string {
  return line
    .replace(/^\s*(?:>\s*)+/, '')
    .replace(LIST_ITEM, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\*\*|__|~~|[*`]/g, '')
    .trim();
}

function nameWithoutExtension(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  const dot = base.lastIndexOf('.');
  // A leading dot (".env") names the file rather than starting an extension.
  return dot > 0 ? base.slice(0, dot) : base;
}
