/**
 * Turns a written procedure (an SOP, a checklist, a paragraph of "first… then…") into ordered
 * steps with who does each one and any side notes.
 */
import { capitalizeFirst, splitSentences } from './text.ts';

export interface WorkflowStep {
  /** 1..n in reading order, whatever numbers the source used. */
  step: number;
  action: string;
  actor: string | null;
  notes: string | null;
}

interface RawStep {
  text: string;
  notes: string[];
}

/** "1. …", "1) …", "Step 1: …" (also "Step 1 - …" or just "Step 1 …"). */
const NUMBERED_LINE = /^\s*(?:step\s*\d+\s*[:.)\-–—]?|\d+[.)])\s+(.*\S)\s*$/i;
const BULLET_LINE = /^\s*[-*•]\s+(.*\S)\s*$/;
const MARKDOWN_HEADING = /^\s*#/;
/** Followed by a space or comma, so "First-time users…" is not a sequence. */
const SEQUENCE_OPENER = /^(?:first|second|third|then|next|after that|afterwards|finally|lastly|once|when)(?=[\s,])/i;
/** Openers that only order the steps; "once"/"when" stay because they state a condition. */
const ORDERING_WORD = /^(?:first|second|third|then|next|after that|afterwards|finally|lastly)(?=[\s,]),?\s*/i;
const OWNER_NOTE = /^(?:owner|actor|responsible|assignee|role)\s*:\s*(.+)$/i;
const DASH_NOTE = /\s+[-–—]\s+/;
/** "Manager: approve the request", with a label of at most four words. */
const ACTOR_LABEL = /^(\p{Lu}[\p{L}&/'’-]*(?:\s+[\p{L}&/'’-]+){0,3})\s*:\s+(\S.*)$/u;
/** "The (hiring) manager approves…": a subject of up to three words and a verb in -s. */
const ARTICLE_SUBJECT = /^(?:[Tt]he|[Aa]n?|[Oo]ur|[Yy]our)\s+((?:[\p{L}'’-]+\s+){0,2}?[\p{L}'’-]+)\s+(\p{Ll}+s)\b/u;
/** "Finance approves…", "Account Manager sends…": capitalised words and a verb in -s. */
const NAMED_SUBJECT = /^(\p{Lu}[\p{L}&'’-]*(?:\s+\p{Lu}[\p{L}&'’-]*){0,2})\s+(\p{Ll}+s)\b/u;

/** Labels before a colon that introduce a remark, not a person or team. */
const NON_ACTOR_LABELS: ReadonlySet<string> = new Set([
  'deadline',
  'example',
  'goal',
  'important',
  'input',
  'note',
  'optional',
  'output',
  'result',
  'tip',
  'warning',
]);
/** Verbs in -s that describe a state or a passive, so their subject is not doing the step. */
const NON_AGENT_VERBS: ReadonlySet<string> = new Set(['becomes', 'does', 'gets', 'goes', 'has', 'is', 'remains', 'seems', 'was']);
/** Verbs that open an instruction; "Check results" is an order, not "Check" doing something. */
const IMPERATIVE_VERBS: ReadonlySet<string> = new Set([
  'add',
  'approve',
  'archive',
  'ask',
  'assign',
  'attach',
  'book',
  'calculate',
  'call',
  'cancel',
  'check',
  'choose',
  'click',
  'close',
  'collect',
  'compare',
  'complete',
  'confirm',
  'contact',
  'copy',
  'create',
  'define',
  'delete',
  'deliver',
  'deploy',
  'document',
  'download',
  'draft',
  'email',
  'enter',
  'escalate',
  'file',
  'fill',
  'find',
  'follow',
  'forward',
  'gather',
  'go',
  'identify',
  'inform',
  'install',
  'invite',
  'log',
  'make',
  'mark',
  'meet',
  'move',
  'notify',
  'open',
  'pay',
  'plan',
  'prepare',
  'press',
  'print',
  'publish',
  'reconcile',
  'record',
  'register',
  'reject',
  'remove',
  'reply',
  'report',
  'request',
  'review',
  'run',
  'save',
  'schedule',
  'select',
  'send',
  'set',
  'share',
  'sign',
  'start',
  'submit',
  'test',
  'track',
  'update',
  'upload',
  'use',
  'validate',
  'verify',
  'wait',
  'write',
]);

/**
 * Numbered lines are the steps when there are any (bullets under them become notes); else
 * bullet lines; else the sentences of the prose that open with a sequencing word or an
 * imperative verb. Indented lines right under a step continue it.
 */
export function extractWorkflow(text: string): WorkflowStep[] {
  const lines = text.split(/\r\n|\r|\n/);
  const numbered = listSteps(lines, NUMBERED_LINE, BULLET_LINE);
  const listed = numbered.length > 0 ? numbered : listSteps(lines, BULLET_LINE, null);
  const raw = listed.length > 0 ? listed : proseSteps(lines);
  return raw
    .map(describeStep)
    .filter((step) => /[\p{L}\p{N}]/u.test(step.action))
    .map((step, index) => ({ step: index + 1, ...step }));
}

function listSteps(lines: string[], stepLine: RegExp, noteLine: RegExp | null): RawStep[] {
  const steps: RawStep[] = [];
  let current: RawStep | null = null;
  for (const line of lines) {
    const step = stepLine.exec(line);
    const note = noteLine?.exec(line);
    if (step) {
      current = { text: step[1] ?? '', notes: [] };
      steps.push(current);
    } else if (note && current) {
      current.notes.push(note[1] ?? '');
    } else if (current && /^\s+\S/.test(line)) {
      current.text += ` ${line.trim()}`;
    } else if (line.trim() !== '') {
      // An unindented line of other text ends the list item above it.
      current = null;
    }
  }
  return steps;
}

function proseSteps(lines: string[]): RawStep[] {
  const prose = lines.filter((line) => !MARKDOWN_HEADING.test(line)).join('\n');
  return splitSentences(prose)
    .filter((sentence) => SEQUENCE_OPENER.test(sentence) || IMPERATIVE_VERBS.has(firstWord(sentence)))
    .map((sentence) => ({ text: sentence, notes: [] }));
}

function describeStep({ text, notes: listedNotes }: RawStep): Omit<WorkflowStep, 'step'> {
  const notes: string[] = [];
  let actor: string | null = null;

  let rest = text.replace(/\s*\(([^()]*)\)/g, (_parenthetical, inner: string) => {
    const content = inner.trim();
    const owner = OWNER_NOTE.exec(content);
    if (owner) actor ??= owner[1]?.trim() ?? null;
    else if (content !== '') notes.push(content);
    return '';
  });

  const dash = DASH_NOTE.exec(rest);
  if (dash) {
    notes.push(rest.slice(dash.index + dash[0].length).trim());
    rest = rest.slice(0, dash.index);
  }
  notes.push(...listedNotes);

  rest = rest.trim().replace(ORDERING_WORD, '');
  const labelled = ACTOR_LABEL.exec(rest);
  const label = labelled?.[1] ?? '';
  if (labelled && !NON_ACTOR_LABELS.has(label.toLowerCase()) && !IMPERATIVE_VERBS.has(firstWord(label))) {
    actor ??= label;
    rest = labelled[2] ?? '';
  } else {
    actor ??= subjectOf(rest);
  }

  return {
    action: capitalizeFirst(rest.trim().replace(/[.;,:]+$/, '')),
    actor: actor === null ? null : capitalizeFirst(actor),
    notes: notes.length > 0 ? notes.join('; ') : null,
  };
}

/** Who does the step when the sentence says so ("The manager approves…"), else null. */
function subjectOf(clause: string): string | null {
  const match = ARTICLE_SUBJECT.exec(clause) ?? NAMED_SUBJECT.exec(clause);
  if (!match || NON_AGENT_VERBS.has(match[2] ?? '')) return null;
  const subject = match[1] ?? '';
  return IMPERATIVE_VERBS.has(firstWord(subject)) || SEQUENCE_OPENER.test(subject) ? null : subject;
}

function firstWord(text: string): string {
  return (/^[\p{L}'’-]+/u.exec(text)?.[0] ?? '').toLowerCase();
}
