/**
 * Plain-text helpers shared by the tool modules. Everything here is locale-independent (no
 * `localeCompare`, no `Intl`) so a tool gives the same answer on every machine.
 */

/** Words that carry no topic on their own; contractions are listed with a straight apostrophe. */
const STOP_WORDS: ReadonlySet<string> = new Set([
  'a',
  'about',
  'above',
  'after',
  'again',
  'against',
  'all',
  'also',
  'am',
  'an',
  'and',
  'any',
  'are',
  'as',
  'at',
  'be',
  'because',
  'been',
  'before',
  'being',
  'below',
  'between',
  'both',
  'but',
  'by',
  'can',
  'could',
  'did',
  'do',
  'does',
  'doing',
  'down',
  'during',
  'each',
  'either',
  'etc',
  'few',
  'for',
  'from',
  'further',
  'get',
  'got',
  'had',
  'has',
  'have',
  'having',
  'he',
  'her',
  'here',
  'hers',
  'him',
  'his',
  'how',
  'however',
  'i',
  'if',
  'in',
  'into',
  'is',
  'it',
  'its',
  'itself',
  'just',
  'let',
  'like',
  'may',
  'me',
  'might',
  'more',
  'most',
  'much',
  'must',
  'my',
  'no',
  'nor',
  'not',
  'now',
  'of',
  'off',
  'on',
  'once',
  'one',
  'only',
  'or',
  'other',
  'our',
  'ours',
  'out',
  'over',
  'own',
  'per',
  'same',
  'shall',
  'she',
  'should',
  'so',
  'some',
  'such',
  'than',
  'that',
  'the',
  'their',
  'theirs',
  'them',
  'then',
  'there',
  'these',
  'they',
  'this',
  'those',
  'through',
  'to',
  'too',
  'under',
  'until',
  'up',
  'upon',
  'us',
  'use',
  'used',
  'using',
  'very',
  'via',
  'was',
  'we',
  'well',
  'were',
  'what',
  'when',
  'where',
  'whether',
  'which',
  'while',
  'who',
  'whom',
  'why',
  'will',
  'with',
  'within',
  'without',
  'would',
  'yes',
  'yet',
  'you',
  'your',
  'yours',
  "aren't",
  "can't",
  "didn't",
  "doesn't",
  "don't",
  "hasn't",
  "haven't",
  "i'd",
  "i'll",
  "i'm",
  "i've",
  "isn't",
  "they're",
  "wasn't",
  "we'll",
  "we're",
  "we've",
  "weren't",
  "won't",
  "wouldn't",
  "you're",
]);

/** Words whose trailing period does not end a sentence. Single letters (initials) count too. */
const ABBREVIATIONS: ReadonlySet<string> = new Set([
  'approx',
  'co',
  'dept',
  'dr',
  'e.g',
  'eg',
  'etc',
  'fig',
  'i.e',
  'ie',
  'inc',
  'jr',
  'ltd',
  'mr',
  'mrs',
  'ms',
  'no',
  'prof',
  'sr',
  'st',
  'vs',
]);

/**
 * A number with inner separators ("1,234.5") stays one word; otherwise a word is letters and
 * digits, joined by apostrophes or hyphens ("don't", "follow-up").
 */
const WORD = /\p{N}+(?:[.,]\p{N}+)+|[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;

/** A sentence ends at . ! or ? (plus closing quotes/brackets) when the next one starts uppercase or with a digit. */
const SENTENCE_END = /[.!?]+["'”’)\]]*\s+(?=["'“‘([]?[\p{Lu}\p{N}])/gu;

export function wordsOf(text: string): string[] {
  return text.match(WORD) ?? [];
}

export function isStopWord(word: string): boolean {
  return STOP_WORDS.has(word.toLowerCase().replace(/’/g, "'"));
}

export function capitalizeFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Sentences in reading order, whitespace collapsed. Blank lines always end a sentence, so a
 * heading or list item without a full stop does not run into the next paragraph.
 */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    const flat = paragraph.replace(/\s+/g, ' ').trim();
    let start = 0;
    for (const match of flat.matchAll(SENTENCE_END)) {
      const end = match.index + match[0].length;
      const candidate = flat.slice(start, end).trim();
      if (endsWithAbbreviation(candidate)) continue;
      sentences.push(candidate);
      start = end;
    }
    const rest = flat.slice(start).trim();
    if (rest !== '') sentences.push(rest);
  }
  return sentences;
}

/**
 * The `limit` most frequent topical words occurring at least `minCount` times, lowercased, most
 * frequent first and ties broken alphabetically. Stop words, words under three letters, words
 * starting with a digit ("8-month") and URLs are not topics.
 */
export function topTerms(text: string, limit: number, minCount = 1): string[] {
  const counts = new Map<string, number>();
  for (const word of wordsOf(text.replace(/\bhttps?:\/\/\S+/g, ' '))) {
    const term = word.toLowerCase().replace(/’/g, "'").replace(/'s$/, '');
    if (term.length < 3 || !/^\p{L}/u.test(term) || STOP_WORDS.has(term)) continue;
    counts.set(term, (counts.get(term) ?? 0) + 1);
  }
  return [...counts]
    .filter(([, count]) => count >= minCount)
    .sort(([termA, countA], [termB, countB]) => countB - countA || compareCodeUnits(termA, termB))
    .slice(0, limit)
    .map(([term]) => term);
}

function endsWithAbbreviation(sentence: string): boolean {
  const lastWord = /(\S+)\.$/.exec(sentence)?.[1]?.replace(/^["'“‘([]+/, '');
  if (lastWord === undefined) return false;
  return /^\p{L}$/u.test(lastWord) || ABBREVIATIONS.has(lastWord.toLowerCase());
}

function compareCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
