import { describe, expect, it } from 'vitest';
import { composeReport, type OutcomeReport, type ReportMessage } from '../../../src/agents/tools/report.ts';

const user = (text: string): ReportMessage => ({ role: 'USER', text, agentId: null });
const agent = (agentId: string | null, text: string): ReportMessage => ({ role: 'AGENT', text, agentId });

function section(report: OutcomeReport, heading: string): string {
  const found = report.sections.find((candidate) => candidate.heading === heading);
  if (!found) throw new Error(`no section ${heading}`);
  return found.body;
}

const metricsOf = (text: string): [string, string][] =>
  composeReport({ question: '', history: [user(text)], files: [] }).metrics.map((metric) => [metric.label, metric.value]);

describe('composeReport structure', () => {
  it('always has an Objective and Recommended next steps, even with nothing to go on', () => {
    const report = composeReport({ question: '  ', history: [], files: [] });
    expect(report.title).toBe('Outcome report');
    expect(report.sections.map((s) => s.heading)).toEqual(['Objective', 'Recommended next steps']);
    expect(section(report, 'Objective')).toMatch(/No question was asked/);
    expect(section(report, 'Recommended next steps')).toBe(
      '1. Collect baseline figures (costs, volumes, conversion rates) so the outcome can be measured.\n' + '2. Name an owner and a review date for each step.',
    );
    expect(report.metrics).toEqual([]);
  });

  it('titles the report after the question and states it as the objective', () => {
    const report = composeReport({ question: '  How do we cut\nchurn?  ', history: [], files: [] });
    expect(report.title).toBe('Outcome report: How do we cut churn');
    expect(section(report, 'Objective')).toBe('How do we cut churn?');
  });

  it('shortens a long question in the title at a word boundary', () => {
    const question = `Please ${'explain the revenue impact '.repeat(10)}`;
    const { title } = composeReport({ question, history: [], files: [] });
    expect(title.startsWith('Outcome report: Please explain')).toBe(true);
    expect(title.endsWith('…')).toBe(true);
    expect(title.length).toBeLessThanOrEqual('Outcome report: '.length + 80);
    expect(title).not.toMatch(/\s…$/);
  });

  it('orders sections Objective, What we covered, Key figures, Recommended next steps', () => {
    const report = composeReport({
      question: 'What did we find?',
      history: [agent('liaison.insights', 'Conversion rose 4%.'), user('What did we find?')],
      files: [],
    });
    expect(report.sections.map((s) => s.heading)).toEqual(['Objective', 'What we covered', 'Key figures', 'Recommended next steps']);
  });

  it('is deterministic', () => {
    const input = {
      question: 'ROI?',
      history: [agent('guide', 'We saved $5,000 and churn fell 3%.')],
      files: [{ name: 'a.md', content: 'Payback in 6 months.' }],
    };
    expect(composeReport(input)).toEqual(composeReport(input));
    expect(composeReport(input).metrics).toHaveLength(3);
  });
});

describe('composeReport "What we covered"', () => {
  const history = [
    user('We want to reduce churn in the enterprise segment.'),
    agent('liaison.insights', 'Churn is concentrated in accounts onboarded last year. Onboarding gaps explain most of it.'),
    agent('liaison.journey', 'The onboarding journey has three drop-off points.'),
    agent('liaison.insights', 'Churn drops when onboarding calls happen in week one.'),
    user('Summarize the outcome for the board.'),
  ];

  it('counts prior messages per speaker, leaving out the question being answered', () => {
    const body = section(composeReport({ question: 'Summarize the outcome for the board.', history, files: [] }), 'What we covered');
    expect(body.split('\n')[0]).toBe('4 messages: 1 from the user, 2 from liaison.insights, 1 from liaison.journey.');
  });

  it('keeps the last message when it is not the question', () => {
    const body = section(composeReport({ question: 'Another question', history, files: [] }), 'What we covered');
    expect(body.split('\n')[0]).toBe('5 messages: 2 from the user, 2 from liaison.insights, 1 from liaison.journey.');
  });

  it('lists recurring topics and the opening sentence of each message', () => {
    const body = section(composeReport({ question: 'Summarize the outcome for the board.', history, files: [] }), 'What we covered');
    expect(body).toContain('Topics: churn, onboarding.');
    expect(body).toContain('- liaison.insights: Churn is concentrated in accounts onboarded last year.');
    expect(body).toContain('- liaison.journey: The onboarding journey has three drop-off points.');
    expect(body).not.toContain('Onboarding gaps explain most of it');
  });

  it('names agents without an id generically and caps the highlights', () => {
    const many = Array.from({ length: 8 }, (_, index) => agent(null, `Point number ${index + 1}.`));
    const body = section(composeReport({ question: 'q', history: many, files: [] }), 'What we covered');
    expect(body.split('\n')[0]).toBe('8 messages: 8 from an agent.');
    expect(body).toContain('- an agent: Point number 6.');
    expect(body).not.toContain('Point number 7.');
    expect(body).toContain('- …and 2 more messages');
  });

  it('is left out when there is no prior message', () => {
    const report = composeReport({ question: 'Hello there', history: [user('Hello there')], files: [] });
    expect(report.sections.map((s) => s.heading)).not.toContain('What we covered');
  });
});

describe('composeReport key figures', () => {
  it('extracts money in symbol, suffix and code forms, labelled by the words before', () => {
    expect(metricsOf('Annual savings of $12,000. Licence fees are 12k USD. Hosting costs €1.5m. Budget: USD 300. Tax approximately £40 million.')).toEqual([
      ['Annual savings', '$12,000'],
      ['Licence fees', '12k USD'],
      ['Hosting costs', '€1.5m'],
      ['Budget', 'USD 300'],
      ['Tax', '£40 million'],
    ]);
  });

  it('extracts percentages, keeping a detached sign', () => {
    expect(metricsOf('Churn fell -5% while conversion rate grew 12 percent; margin 3.5 %')).toEqual([
      ['Churn fell', '-5%'],
      ['Conversion rate grew', '12 percent'],
      ['Margin', '3.5 %'],
    ]);
  });

  it('labels by the words after a figure that opens its clause, else by its kind', () => {
    expect(metricsOf('$12,000 in annual savings. 15% of users. | 40% |, $9')).toEqual([
      ['Annual savings', '$12,000'],
      ['Users', '15%'],
      ['Percentage', '40%'],
      ['Amount', '$9'],
    ]);
  });

  it('labels a figure after an article by the noun it describes', () => {
    expect(metricsOf('We saw a 15% increase in conversion, and the $2m budget held')).toEqual([
      ['Increase in conversion', '15%'],
      ['Budget held', '$2m'],
    ]);
  });

  it('does not let a figure borrow words from the figure before it', () => {
    expect(metricsOf('Conversion went from 2% to 3%')).toEqual([
      ['Conversion went', '2%'],
      ['Percentage', '3%'],
    ]);
  });

  it('reads ROI and payback mentions with their numbers as one figure each', () => {
    expect(metricsOf('The ROI of 150% is strong. Return on investment: 3.2x. Payback period of 8 months, or an 18-month payback at worst.')).toEqual([
      ['ROI', '150%'],
      ['ROI', '3.2x'],
      ['Payback period', '8 months'],
      ['Payback period', '18 months'],
    ]);
  });

  it('labels money mentioned after ROI by the ROI words', () => {
    expect(metricsOf('ROI of $50,000 in year one')).toEqual([['ROI', '$50,000']]);
  });

  it('does not take numbers that are neither money nor percentages', () => {
    expect(metricsOf('We have 12 agents and 3 offices in 2024.')).toEqual([]);
  });

  it('gathers figures from the question, the history and the files, each once', () => {
    const report = composeReport({
      question: 'Can we hit a 20% margin?',
      history: [user('Can we hit a 20% margin?'), agent('liaison.outcomes', 'Savings of $8,000 are likely.')],
      files: [{ name: 'costs.csv', content: 'Savings of $8,000 confirmed. Tooling costs $2,500.' }],
    });
    expect(report.metrics).toEqual([
      { label: 'Margin', value: '20%' },
      { label: 'Savings', value: '$8,000' },
      { label: 'Tooling costs', value: '$2,500' },
    ]);
    expect(section(report, 'Key figures')).toBe('- Margin: 20%\n- Savings: $8,000\n- Tooling costs: $2,500');
  });

  it('keeps at most twelve figures', () => {
    const content = Array.from({ length: 20 }, (_, index) => `Item ${index} costs $${index + 1}00.`).join(' ');
    const { metrics } = composeReport({ question: '', history: [], files: [{ name: 'f.txt', content }] });
    expect(metrics).toHaveLength(12);
    expect(metrics[11]).toEqual({ label: 'Item 11 costs', value: '$1200' });
  });
});

describe('composeReport next steps', () => {
  it('builds steps from the kinds of figures found and the files attached', () => {
    const report = composeReport({
      question: 'Is automation worth it?',
      history: [agent('liaison.outcomes', 'Error rate drops 30%. Annual savings of $144k. ROI of 150%.')],
      files: [
        { name: 'costs.md', content: '' },
        { name: 'volumes.csv', content: '' },
      ],
    });
    expect(section(report, 'Recommended next steps').split('\n')).toEqual([
      '1. Track error rate drops (30%) against a baseline every month to confirm the change holds.',
      '2. Validate annual savings ($144k) with finance before committing budget.',
      '3. Stress-test ROI (150%) under a conservative scenario before presenting it as a commitment.',
      '4. Keep costs.md and volumes.csv with this report as its evidence.',
      '5. Name an owner and a review date for each step.',
    ]);
  });

  it('lists at most three figures per step', () => {
    const report = composeReport({ question: '', history: [user('Alpha 1%, beta 2%, gamma 3%, delta 4%.')], files: [] });
    const track = section(report, 'Recommended next steps').split('\n')[0];
    expect(track).toBe('1. Track alpha (1%), beta (2%) and gamma (3%) against a baseline every month to confirm the change holds.');
  });
});
