import { describe, expect, it } from 'vitest';
import { chartSpecFor, looksLikeCsv, parseCsv, profileCsv, trendOf, type ColumnProfile } from '../../../src/agents/tools/csv.ts';

function column(text: string, name: string): ColumnProfile {
  const found = profileCsv(text).columns.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no column ${name}`);
  return found;
}

describe('parseCsv', () => {
  it('splits a header and rows', () => {
    expect(parseCsv('a,b\n1,2\n3,4')).toEqual({
      header: ['a', 'b'],
      rows: [
        ['1', '2'],
        ['3', '4'],
      ],
    });
  });

  it('accepts CRLF line endings and drops the trailing empty line', () => {
    expect(parseCsv('a,b\r\n1,2\r\n')).toEqual({ header: ['a', 'b'], rows: [['1', '2']] });
  });

  it('drops blank lines at either end but keeps those between as empty rows', () => {
    expect(parseCsv('\n\na\n1\n\n2\n\n  \n').rows).toEqual([['1'], [''], ['2']]);
  });

  it('reads quoted fields with delimiters, doubled quotes and newlines inside', () => {
    const { rows } = parseCsv('name,quote\n"Smith, J","He said ""hi""\nthen left"\nDoe,plain\n');
    expect(rows).toEqual([
      ['Smith, J', 'He said "hi"\nthen left'],
      ['Doe', 'plain'],
    ]);
  });

  it('keeps empty quoted fields and empty unquoted fields as empty strings', () => {
    expect(parseCsv('a,b,c\n"",,x').rows).toEqual([['', '', 'x']]);
  });

  it('keeps a stray quote inside an unquoted field', () => {
    expect(parseCsv('size\n5" screen').rows).toEqual([['5" screen']]);
  });

  it('detects semicolons when the header has more of them than commas', () => {
    expect(parseCsv('name;price\nWidget;1,5\n')).toEqual({ header: ['name', 'price'], rows: [['Widget', '1,5']] });
  });

  it('detects tabs when the header has more of them than commas', () => {
    expect(parseCsv('name\tnote\nA\tx, y\n')).toEqual({ header: ['name', 'note'], rows: [['A', 'x, y']] });
  });

  it('ignores delimiters inside quoted header names when detecting', () => {
    expect(parseCsv('"a;b;c",d\n1,2').header).toEqual(['a;b;c', 'd']);
  });

  it('prefers comma on a tie', () => {
    expect(parseCsv('a,b;c\n1,2;3').header).toEqual(['a', 'b;c']);
  });

  it('strips a byte-order mark', () => {
    expect(parseCsv('\uFEFFid,name\n1,x').header).toEqual(['id', 'name']);
  });

  it('trims header names and renames blank or repeated ones', () => {
    expect(parseCsv(' id ,,price,price\n1,2,3,4').header).toEqual(['id', 'column 2', 'price', 'price (2)']);
  });

  it('does not pad short rows', () => {
    expect(parseCsv('a,b,c\n1').rows).toEqual([['1']]);
  });

  it('throws on empty or blank input', () => {
    expect(() => parseCsv('')).toThrow(/empty/);
    expect(() => parseCsv('  \n\r\n ')).toThrow(/empty/);
  });

  it('throws on an unterminated quote, naming the line it opened on', () => {
    expect(() => parseCsv('a,b\n1,2\n3,"oops\n4,5')).toThrow(/unterminated quoted field starting on line 3/);
  });
});

describe('profileCsv', () => {
  it('profiles a number column numerically with a rounded mean', () => {
    const text = 'n\n1\n2\n2\n';
    expect(profileCsv(text).rowCount).toBe(3);
    expect(column(text, 'n')).toEqual({
      name: 'n',
      type: 'number',
      count: 3,
      missing: 0,
      distinct: 2,
      min: 1,
      max: 2,
      mean: 1.6667,
    });
  });

  it('accepts signs, decimals and exponents as numbers and compares them numerically', () => {
    const profile = column('x\n-3\n+10\n.5\n1e2\n2.50', 'x');
    expect(profile.type).toBe('number');
    expect(profile.min).toBe(-3);
    expect(profile.max).toBe(100);
    expect(profile.mean).toBe(22);
  });

  it('counts distinct numbers by value, not by spelling', () => {
    expect(column('x\n1\n1.0\n01', 'x').distinct).toBe(1);
  });

  it('treats empty, NA, N/A, null and "-" in any case as missing', () => {
    const profile = column('x\n5\n\nNA\nn/a\nNULL\n-\n na \n7', 'x');
    expect(profile).toMatchObject({ type: 'number', count: 2, missing: 6, min: 5, max: 7, mean: 6 });
  });

  it('counts cells that a short row lacks as missing', () => {
    expect(column('a,b\n1,2\n3', 'b')).toMatchObject({ count: 1, missing: 1 });
  });

  it('does not read thousands separators or overflowing exponents as numbers', () => {
    expect(column('x\n"1,234"\n5', 'x').type).toBe('string');
    expect(column('x\n1e999', 'x').type).toBe('string');
  });

  it('falls back to string for mixed values and orders them by code unit', () => {
    const profile = column('x\n10\napple\nBanana\n9', 'x');
    expect(profile).toMatchObject({ type: 'string', count: 4, distinct: 4, min: '10', max: 'apple', mean: null });
  });

  it('recognises booleans in any case and gives them no min or max', () => {
    const profile = column('ok\ntrue\nFALSE\nyes\nNo\nYes', 'ok');
    expect(profile).toMatchObject({ type: 'boolean', count: 5, distinct: 4, min: null, max: null, mean: null });
  });

  it('recognises ISO dates, with or without a time, and orders them', () => {
    const profile = column('when\n2024-03-01\n2023-12-31T23:59:00Z\n2024-01-15 08:30', 'when');
    expect(profile).toMatchObject({ type: 'date', min: '2023-12-31T23:59:00Z', max: '2024-03-01', mean: null });
  });

  it('rejects days that do not exist and other date spellings', () => {
    expect(column('d\n2024-02-30', 'd').type).toBe('string');
    expect(column('d\n03/01/2024', 'd').type).toBe('string');
    expect(column('d\n2024-02-29', 'd').type).toBe('date');
  });

  it('reports a column with no values as string with null min, max and mean', () => {
    expect(column('a,b\n1,\n2,NA', 'b')).toEqual({
      name: 'b',
      type: 'string',
      count: 0,
      missing: 2,
      distinct: 0,
      min: null,
      max: null,
      mean: null,
    });
  });

  it('profiles a header-only file as zero rows', () => {
    const profile = profileCsv('a,b\n');
    expect(profile.rowCount).toBe(0);
    expect(profile.columns.map((c) => [c.name, c.type, c.count])).toEqual([
      ['a', 'string', 0],
      ['b', 'string', 0],
    ]);
  });
});

describe('chartSpecFor', () => {
  it('is a Vega-Lite v5 spec with the rows inlined and numbers converted', () => {
    const spec = chartSpecFor('sales.csv', 'region,revenue\nEast,100\nWest,NA\n');
    expect(spec.$schema).toBe('https://vega.github.io/schema/vega-lite/v5.json');
    expect(spec.width).toBe('container');
    expect(spec.data.values).toEqual([
      { region: 'East', revenue: 100 },
      { region: 'West', revenue: null },
    ]);
  });

  it('draws bars of the first number column summed by the first string column', () => {
    const spec = chartSpecFor('sales.csv', 'id,region,units,revenue\n1,East,3,100\n2,West,4,200\n');
    expect(spec.mark.type).toBe('bar');
    expect(spec.encoding.x).toMatchObject({ field: 'region', type: 'nominal' });
    expect(spec.encoding.y).toMatchObject({ field: 'id', type: 'quantitative', aggregate: 'sum' });
    expect(spec.title).toContain('sales.csv');
    expect(spec.title).toContain('by region');
  });

  it('draws a line over time when the first category column holds dates', () => {
    const spec = chartSpecFor('daily.csv', 'day,visits\n2024-01-01,5\n2024-01-02,8\n');
    expect(spec.mark.type).toBe('line');
    expect(spec.encoding.x).toMatchObject({ field: 'day', type: 'temporal' });
    expect(spec.encoding.y).toMatchObject({ field: 'visits', type: 'quantitative', aggregate: 'sum' });
  });

  it('draws a histogram of the first column when every column is numeric', () => {
    const spec = chartSpecFor('m.csv', 'height,weight\n1.7,70\n1.8,80\n');
    expect(spec.mark.type).toBe('bar');
    expect(spec.encoding.x).toMatchObject({ field: 'height', type: 'quantitative', bin: true });
    expect(spec.encoding.y).toMatchObject({ aggregate: 'count', type: 'quantitative' });
    expect(spec.encoding.y.field).toBeUndefined();
  });

  it('ignores columns without values when choosing', () => {
    const spec = chartSpecFor('m.csv', 'comment,score\n,3\n,4\n');
    expect(spec.encoding.x).toMatchObject({ field: 'score', bin: true });
  });

  it('counts rows per value of the first column when there is no number column', () => {
    const spec = chartSpecFor('people.csv', 'team,name\nA,x\nB,y\nA,z\n');
    expect(spec.mark.type).toBe('bar');
    expect(spec.encoding.x).toMatchObject({ field: 'team', type: 'nominal' });
    expect(spec.encoding.y).toMatchObject({ aggregate: 'count' });
  });

  it('uses a boolean column as the category when there is no string or date column', () => {
    const spec = chartSpecFor('x.csv', 'amount,paid\n10,yes\n20,no\n');
    expect(spec.encoding.x).toMatchObject({ field: 'paid', type: 'nominal' });
    expect(spec.encoding.y).toMatchObject({ field: 'amount', aggregate: 'sum' });
  });

  it('inlines at most 500 rows and says so in the title', () => {
    const lines = ['n', ...Array.from({ length: 750 }, (_, index) => String(index))];
    const spec = chartSpecFor('big.csv', lines.join('\n'));
    expect(spec.data.values).toHaveLength(500);
    expect(spec.title).toContain('first 500 of 750 rows');
  });

  it('escapes field names that Vega-Lite would read as nested access', () => {
    const spec = chartSpecFor('x.csv', 'region,revenue.usd\nEast,1\n');
    expect(spec.encoding.y.field).toBe('revenue\\.usd');
    expect(spec.encoding.y.title).toBe('Total revenue.usd');
    expect(spec.data.values[0]).toEqual({ region: 'East', 'revenue.usd': 1 });
  });

  it('propagates parse errors', () => {
    expect(() => chartSpecFor('x.csv', '')).toThrow(/empty/);
  });
});

describe('trendOf', () => {
  it('describes a number over time: first, last, change and peak, summing rows of the same date', () => {
    const csv = 'month,region,revenue\n2026-02-01,north,60\n2026-01-01,north,120\n2026-02-01,south,75\n2026-03-01,north,160\n2026-04-01,south,150\n';
    expect(trendOf(csv)).toEqual({
      over: 'month',
      of: 'revenue',
      from: { at: '2026-01-01', value: 120 },
      to: { at: '2026-04-01', value: 150 },
      change: 30,
      changePercent: 25,
      peak: { at: '2026-03-01', value: 160 },
      points: 4,
    });
  });

  it('has no trend without a date column, or with fewer than two dates', () => {
    expect(trendOf('region,revenue\nnorth,1\nsouth,2\n')).toBeNull();
    expect(trendOf('month,revenue\n2026-01-01,1\n2026-01-01,2\n')).toBeNull();
  });

  it('leaves the percentage out when the series starts at zero', () => {
    expect(trendOf('day,count\n2026-01-01,0\n2026-01-02,5\n')).toMatchObject({ change: 5, changePercent: null });
  });
});

describe('CSV pasted after a question', () => {
  const question = 'Here is more data, what is the trend?';

  it('takes the rows after the question, not the question, as the table', () => {
    const text = `${question}\nmonth,revenue\n2026-04-01,170\n2026-05-01,182\n`;
    expect(parseCsv(text)).toEqual({
      header: ['month', 'revenue'],
      rows: [
        ['2026-04-01', '170'],
        ['2026-05-01', '182'],
      ],
    });
    expect(trendOf(text)).toMatchObject({ over: 'month', of: 'revenue', change: 12 });
  });

  it('names the columns of rows pasted without a header, keeping the first row as data', () => {
    const text = `Here is more data. What is the trend?\n\n2026-04-01,170\n2026-05-01,182\n2026-06-01,190`;
    expect(parseCsv(text)).toEqual({
      header: ['column 1', 'column 2'],
      rows: [
        ['2026-04-01', '170'],
        ['2026-05-01', '182'],
        ['2026-06-01', '190'],
      ],
    });
    expect(trendOf(text)).toMatchObject({ from: { value: 170 }, to: { value: 190 }, points: 3 });
  });

  it('is recognised as CSV whether or not the question has a comma', () => {
    expect(looksLikeCsv(`${question}\nmonth,revenue\n2026-04-01,170`)).toBe(true);
    expect(looksLikeCsv(`What is the trend?\nmonth,revenue\n2026-04-01,170`)).toBe(true);
    expect(looksLikeCsv('Hello there, how are you?')).toBe(false);
    expect(looksLikeCsv('One sentence, then another.\nAnd a second line, with a comma.')).toBe(false);
  });

  it('keeps a header row made of words', () => {
    expect(parseCsv('name,city\nAda,London').header).toEqual(['name', 'city']);
  });
});
