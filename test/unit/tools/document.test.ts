import { describe, expect, it } from 'vitest';
import { outlineDocument } from '../../../src/agents/tools/document.ts';

const headingsOf = (text: string): [number, string][] => outlineDocument('doc.md', text).headings.map((heading) => [heading.level, heading.text]);

describe('outlineDocument headings', () => {
  it('reads Markdown ATX headings at every level, without closing hashes', () => {
    expect(headingsOf('# One\n## Two ##\n###### Six\n####### Seven\n#NoSpace\nC# is a language')).toEqual([
      [1, 'One'],
      [2, 'Two'],
      [6, 'Six'],
    ]);
  });

  it('reads setext headings underlined with = and -', () => {
    expect(headingsOf('Main Title\n==========\n\nSome text here.\n\nSection\n-------\nBody.')).toEqual([
      [1, 'Main Title'],
      [2, 'Section'],
    ]);
  });

  it('treats --- after a blank line as a rule, not a heading', () => {
    expect(headingsOf('Paragraph text.\n\n---\n\nMore text.')).toEqual([]);
  });

  it('does not turn a list item above --- into a heading', () => {
    expect(headingsOf('- item one\n---')).toEqual([]);
  });

  it('reads numbered headings, one level per number segment', () => {
    expect(headingsOf('1. Introduction\n1.1 Scope\n2.3.1 Detailed Terms\n1.2. Glossary')).toEqual([
      [1, '1. Introduction'],
      [2, '1.1 Scope'],
      [3, '2.3.1 Detailed Terms'],
      [2, '1.2. Glossary'],
    ]);
  });

  it('leaves numbered sentences, lowercase items, lead-ins and bare numbers alone', () => {
    expect(headingsOf('1. Install the package first.\n2. buy milk\n3. The steps are:\n2024 Plans ahead\n1.5 million users')).toEqual([]);
  });

  it('does not take long numbered lines as headings', () => {
    expect(headingsOf(`1. ${'Word '.repeat(20)}`)).toEqual([]);
  });

  it('reads short ALL-CAPS lines as level-1 headings', () => {
    expect(headingsOf('TERMS & CONDITIONS\nThe body text.\nQ3 REVIEW: SALES\nOK\nTHIS IS | A TABLE')).toEqual([
      [1, 'TERMS & CONDITIONS'],
      [1, 'Q3 REVIEW: SALES'],
    ]);
  });

  it('ignores heading-like lines inside code blocks', () => {
    expect(headingsOf('# Setup\n```bash\n# install deps\nNPM INSTALL\n```\n~~~\n# also code\n~~~\n## Usage')).toEqual([
      [1, 'Setup'],
      [2, 'Usage'],
    ]);
  });
});

describe('outlineDocument title', () => {
  it('is the first level-1 heading', () => {
    expect(outlineDocument('a.md', '## Intro\n# Real Title\n# Later').title).toBe('Real Title');
  });

  it('falls back to the first heading', () => {
    expect(outlineDocument('a.md', 'text\n## Background\n### Detail').title).toBe('Background');
  });

  it('falls back to the file name without directory or extension', () => {
    expect(outlineDocument('docs/q3-plan.final.md', 'just some text').title).toBe('q3-plan.final');
    expect(outlineDocument('notes', 'just some text').title).toBe('notes');
    expect(outlineDocument('.env', 'just some text').title).toBe('.env');
  });
});

describe('outlineDocument counts', () => {
  it('counts words, keeping contractions, hyphenated words and separated numbers whole', () => {
    expect(outlineDocument('a.txt', "# Title\nDon't follow-up on 1,234.5 items!").wordCount).toBe(6);
  });

  it('counts lines without an extra one for the final newline, with CRLF or LF', () => {
    expect(outlineDocument('a.txt', 'one\ntwo\nthree\n').lineCount).toBe(3);
    expect(outlineDocument('a.txt', 'one\r\ntwo\r\n\r\n').lineCount).toBe(3);
    expect(outlineDocument('a.txt', 'no newline').lineCount).toBe(1);
  });

  it('handles empty text', () => {
    expect(outlineDocument('empty.md', '')).toEqual({
      name: 'empty.md',
      title: 'empty',
      headings: [],
      wordCount: 0,
      lineCount: 0,
      summary: [],
      keyTerms: [],
    });
  });
});

describe('outlineDocument summary', () => {
  it('takes up to three meaningful sentences from the body, not from headings or code', () => {
    const text = [
      '# Quarterly Plan Overview For Everyone',
      'Draft.',
      'This plan sets targets for Q3. Mr. Smith owns the budget line. We will hire two engineers.',
      '```',
      'This code line is long enough to count.',
      '```',
      'A fourth sentence that should not appear.',
    ].join('\n');
    expect(outlineDocument('plan.md', text).summary).toEqual([
      'This plan sets targets for Q3.',
      'Mr. Smith owns the budget line.',
      'We will hire two engineers.',
    ]);
  });

  it('skips lead-ins ending in a colon and strips Markdown markup', () => {
    const text = 'The steps are as follows:\n\n- **Open** the [admin console](https://example.com) today\n\n> Quoted `config` values stay readable.';
    expect(outlineDocument('a.md', text).summary).toEqual(['Open the admin console today', 'Quoted config values stay readable.']);
  });

  it('does not run one list item into the next', () => {
    const summary = outlineDocument('a.md', '- Ship the new pricing page\n- Retire the old billing flow').summary;
    expect(summary).toEqual(['Ship the new pricing page', 'Retire the old billing flow']);
  });
});

describe('outlineDocument key terms', () => {
  it('ranks non-stop-words by frequency, breaking ties alphabetically', () => {
    const text = 'Churn churn churn. Revenue revenue. The pricing and the budget and the zebra.';
    expect(outlineDocument('a.txt', text).keyTerms).toEqual(['churn', 'revenue', 'budget', 'pricing', 'zebra']);
  });

  it('returns at most eight and ignores URLs, short words, numbers and code', () => {
    const text = [
      'alpha beta gamma delta epsilon zeta theta iota kappa lambda',
      'See https://example.com/alpha for 2024 and 8-week AI plans.',
      '```',
      'omega omega omega omega',
      '```',
    ].join('\n');
    const { keyTerms } = outlineDocument('a.txt', text);
    expect(keyTerms).toHaveLength(8);
    expect(keyTerms[0]).toBe('alpha');
    expect(keyTerms).not.toContain('omega');
    expect(keyTerms).not.toContain('https');
    expect(keyTerms).not.toContain('8-week');
    expect(keyTerms).not.toContain('ai');
  });

  it('includes heading words and merges possessives', () => {
    const { keyTerms } = outlineDocument('a.md', "# Zebra Journey\nThe customer's visit and the customer’s cart. Zebra.");
    expect(keyTerms.slice(0, 2)).toEqual(['customer', 'zebra']);
    expect(keyTerms).not.toContain("customer's");
  });
});
