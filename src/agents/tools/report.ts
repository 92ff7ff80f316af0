/**
 * A business-outcomes report composed from the conversation and its attachments: what was asked,
 * what was discussed, the figures that came up (money, percentages, ROI, payback) and next steps.
 * Deterministic, so the same conversation always yields the same report.
 */
import { capitalizeFirst, isStopWord, splitSentences, topTerms, wordsOf } from './text.ts';

export interface ReportMessage {
  role: 'USER' | 'AGENT';
  text: string;
  agentId: string | null;
}

export interface ReportFile {
  name: string;
  content: string;
}

export interface ReportInput {
  question: string;
  /** Oldest first; may end with the message that asked `question`, which is then not "covered". */
  history: readonly ReportMessage[];
  files: readonly ReportFile[];
}

export interface ReportSection {
  heading: string;
  body: string;
}

export interface ReportMetric {
  label: string;
  value: string;
}

export interface OutcomeReport {
  title: string;
  sections: ReportSection[];
  metrics: ReportMetric[];
}

type FigureKind = 'money' | 'percent' | 'roi' | 'payback';

interface Figure extends ReportMetric {
  kind: FigureKind;
}

interface Span {
  kind: FigureKind;
  /** Set for ROI and payback, whose keyword is the label. */
  label: string | null;
  value: string;
  start: number;
  end: number;
}

/** Beyond this the figures stop being "key"; a spreadsheet attachment could hold thousands. */
const MAX_METRICS = 12;
const MAX_HIGHLIGHTS = 6;
const MAX_LISTED_FIGURES = 3;
const TOPIC_COUNT = 5;
/** A word said once in a short chat is not a topic yet. */
const TOPIC_MIN_MENTIONS = 2;
const TITLE_LENGTH = 80;
const HIGHLIGHT_LENGTH = 160;
const LABEL_WORDS_BEFORE = 4;
const LABEL_WORDS_AFTER = 3;

const NUMBER = String.raw`(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)`;
const SCALE = String.raw`(?:\s?(?:k|m|mm|bn|b|thousand|million|billion)\b)?`;
const AMOUNT = `${NUMBER}${SCALE}`;
/** "$12,000", "€1.5m", "12k USD", "300 dollars", "USD 300". */
const MONEY = new RegExp(String.raw`[$€£]\s?${AMOUNT}|\b${AMOUNT}\s?(?:USD|EUR|GBP|dollars|euros)\b|\b(?:USD|EUR|GBP)\s?${AMOUNT}`, 'gi');
/** A sign counts only when it is not glued to a word ("Q3-5%" is 5%, " -5%" is minus 5%). */
const PERCENT = new RegExp(String.raw`(?:(?<![\w.])[-+])?${NUMBER}\s?(?:%|percent\b)`, 'gi');
const RETURN_UNIT = String.raw`(?:\s?(?:%|x\b|times\b|months?\b|years?\b|weeks?\b|quarters?\b))?`;
/** "ROI of 150%", "return on investment: 3.2x", "payback period of 8 months": the first number after the keyword. */
const RETURN_FIGURE = new RegExp(String.raw`\b(ROI|return on investment|payback(?:\s+period)?)\b[^.\n\d$€£]{0,40}?(${NUMBER}${RETURN_UNIT})`, 'gi');
/** "18-month payback", where the number comes first. */
const PERIOD_THEN_PAYBACK = /\b(\d+(?:\.\d+)?)[\s-](month|year|week|quarter)s?\s+payback\b/gi;
/** Where a label stops: the figure's own clause. */
const CLAUSE_BREAK = /[.;:!?()[\]|,\n]/;
const ARTICLES: ReadonlySet<string> = new Set(['a', 'an', 'the']);
/** Hedges that read badly at the edge of a label ("roughly $5k" is labelled by what precedes it). */
const LABEL_FILLERS: ReadonlySet<string> = new Set(['almost', 'approximately', 'around', 'nearly', 'roughly']);

export function composeReport(input: ReportInput): OutcomeReport {
  const question = collapseWhitespace(input.question);
  const covered = priorMessages(question, input.history);
  const figures = figuresIn([question, ...input.history.map((message) => message.text), ...input.files.map((file) => file.content)]);
  const metrics = figures.map(({ label, value }) => ({ label, value }));

  const objective = question || 'No question was asked; this report summarizes the conversation so far.';
  const sections: ReportSection[] = [{ heading: 'Objective', body: objective }];
  if (covered.length > 0) sections.push({ heading: 'What we covered', body: coverage(covered) });
  if (metrics.length > 0) {
    const body = metrics.map((metric) => `- ${metric.label}: ${metric.value}`).join('\n');
    sections.push({ heading: 'Key figures', body });
  }
  sections.push({
    heading: 'Recommended next steps',
    body: nextSteps(figures, input.files)
      .map((step, index) => `${index + 1}. ${step}`)
      .join('\n'),
  });

  const topic = question.replace(/[\s?.!]+$/, '');
  return { title: topic ? `Outcome report: ${truncate(topic, TITLE_LENGTH)}` : 'Outcome report', sections, metrics };
}

/** The history minus its last message when that message is the question itself. */
function priorMessages(question: string, history: readonly ReportMessage[]): readonly ReportMessage[] {
  const last = history.at(-1);
  const isQuestion = last?.role === 'USER' && collapseWhitespace(last.text) === question;
  return isQuestion ? history.slice(0, -1) : history;
}

function coverage(messages: readonly ReportMessage[]): string {
  const perSpeaker = new Map<string, number>();
  for (const message of messages) perSpeaker.set(speaker(message), (perSpeaker.get(speaker(message)) ?? 0) + 1);
  const tally = [...perSpeaker].map(([who, count]) => `${count} from ${who}`).join(', ');
  const lines = [`${countOf(messages.length, 'message')}: ${tally}.`];

  const topics = topTerms(messages.map((message) => message.text).join('\n\n'), TOPIC_COUNT, TOPIC_MIN_MENTIONS);
  if (topics.length > 0) lines.push(`Topics: ${topics.join(', ')}.`);

  for (const message of messages.slice(0, MAX_HIGHLIGHTS)) {
    const opening = splitSentences(message.text)[0];
    if (opening !== undefined) lines.push(`- ${speaker(message)}: ${truncate(opening, HIGHLIGHT_LENGTH)}`);
  }
  if (messages.length > MAX_HIGHLIGHTS) {
    lines.push(`- …and ${countOf(messages.length - MAX_HIGHLIGHTS, 'more message')}`);
  }
  return lines.join('\n');
}

function speaker(message: ReportMessage): string {
  if (message.role === 'USER') return 'the user';
  return message.agentId ?? 'an agent';
}

/** Figures in order of appearance across the texts, each label/value pair once, at most MAX_METRICS. */
function figuresIn(texts: string[]): Figure[] {
  const figures: Figure[] = [];
  const seen = new Set<string>();
  for (const text of texts) {
    for (const figure of figuresInText(text)) {
      const key = `${figure.label.toLowerCase()}|${figure.value.toLowerCase()}`;
      if (seen.has(key)) continue;
      seen.add(key);
      figures.push(figure);
      if (figures.length === MAX_METRICS) return figures;
    }
  }
  return figures;
}

function figuresInText(text: string): Figure[] {
  const spans: Span[] = [];
  const claim = (span: Span): void => {
    // "ROI of 150%" is one ROI figure, not also a percentage.
    if (!spans.some((taken) => span.start < taken.end && taken.start < span.end)) spans.push(span);
  };
  const spanOf = (match: RegExpMatchArray, kind: FigureKind, label: string | null, value: string): Span => ({
    kind,
    label,
    value: collapseWhitespace(value),
    start: match.index ?? 0,
    end: (match.index ?? 0) + match[0].length,
  });

  for (const match of text.matchAll(RETURN_FIGURE)) {
    const payback = /^payback/i.test(match[1] ?? '');
    claim(spanOf(match, payback ? 'payback' : 'roi', payback ? 'Payback period' : 'ROI', match[2] ?? ''));
  }
  for (const match of text.matchAll(PERIOD_THEN_PAYBACK)) {
    const amount = match[1] ?? '';
    const unit = (match[2] ?? '').toLowerCase();
    claim(spanOf(match, 'payback', 'Payback period', `${amount} ${unit}${amount === '1' ? '' : 's'}`));
  }
  for (const match of text.matchAll(MONEY)) claim(spanOf(match, 'money', null, match[0]));
  for (const match of text.matchAll(PERCENT)) claim(spanOf(match, 'percent', null, match[0]));

  spans.sort((a, b) => a.start - b.start);
  return spans.map((span, index) => ({
    kind: span.kind,
    value: span.value,
    label: span.label ?? labelFor(text, span, spans[index - 1]?.end ?? 0),
  }));
}

/**
 * The words right before the figure in its clause ("Annual savings of $12,000"), else the words
 * right after it ("$12,000 in savings", "a 20% margin"), else what kind of figure it is. `from`
 * is where the previous figure ended, so two figures in a row do not share words.
 */
function labelFor(text: string, span: Span, from: number): string {
  // "Savings: $12,000" is labelled by what precedes the colon.
  const before =
    text
      .slice(from, span.start)
      .replace(/[:=]\s*$/, '')
      .split(CLAUSE_BREAK)
      .pop() ?? '';
  const after = text.slice(span.end).split(CLAUSE_BREAK)[0] ?? '';
  const wordsBefore = wordsOf(before).slice(-LABEL_WORDS_BEFORE);
  const wordsAfter = wordsOf(after).slice(0, LABEL_WORDS_AFTER);
  // "a 20% margin": after an article, the figure describes the noun that follows it.
  const describesNext = ARTICLES.has(wordsBefore.at(-1)?.toLowerCase() ?? '');
  const label = describesNext ? labelWords(wordsAfter) || labelWords(wordsBefore) : labelWords(wordsBefore) || labelWords(wordsAfter);
  return label ? capitalizeFirst(label) : span.kind === 'money' ? 'Amount' : 'Percentage';
}

/** The words joined, minus stop words, hedges and bare numbers at either end. */
function labelWords(words: string[]): string {
  const isEdgeNoise = (word: string): boolean => isStopWord(word) || LABEL_FILLERS.has(word.toLowerCase()) || !/\p{L}/u.test(word);
  let start = 0;
  let end = words.length;
  while (start < end && isEdgeNoise(words[start] ?? '')) start++;
  while (end > start && isEdgeNoise(words[end - 1] ?? '')) end--;
  return words.slice(start, end).join(' ');
}

function nextSteps(figures: Figure[], files: readonly ReportFile[]): string[] {
  const ofKind = (...kinds: FigureKind[]): Figure[] => figures.filter((figure) => kinds.includes(figure.kind));
  const steps: string[] = [];
  const percentages = ofKind('percent');
  if (percentages.length > 0) {
    steps.push(`Track ${listed(percentages)} against a baseline every month to confirm the change holds.`);
  }
  const amounts = ofKind('money');
  if (amounts.length > 0) steps.push(`Validate ${listed(amounts)} with finance before committing budget.`);
  const returns = ofKind('roi', 'payback');
  if (returns.length > 0) {
    steps.push(`Stress-test ${listed(returns)} under a conservative scenario before presenting it as a commitment.`);
  }
  if (figures.length === 0) {
    steps.push('Collect baseline figures (costs, volumes, conversion rates) so the outcome can be measured.');
  }
  if (files.length > 0) {
    steps.push(`Keep ${joinWithAnd(files.map((file) => file.name))} with this report as its evidence.`);
  }
  steps.push('Name an owner and a review date for each step.');
  return steps;
}

/** "churn (15%), ROI (150%) and payback period (8 months)", mid-sentence casing, acronyms kept. */
function listed(figures: Figure[]): string {
  return joinWithAnd(
    figures.slice(0, MAX_LISTED_FIGURES).map((figure) => {
      const firstWord = figure.label.split(' ')[0] ?? '';
      const acronym = firstWord.length > 1 && firstWord === firstWord.toUpperCase();
      const label = acronym ? figure.label : figure.label.charAt(0).toLowerCase() + figure.label.slice(1);
      return `${label} (${figure.value})`;
    }),
  );
}

function joinWithAnd(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Cut at a word boundary when there is one, marking the cut with an ellipsis. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - 1).replace(/\s+\S*$/, '')}…`;
}
