/**
 * Reading, profiling and charting CSV attachments. Pure functions of the text, so a tool call
 * can be replayed and gives the same answer.
 */

export interface ParsedCsv {
  header: string[];
  rows: string[][];
}

export type ColumnType = 'number' | 'boolean' | 'date' | 'string';

export interface ColumnProfile {
  name: string;
  type: ColumnType;
  /** Non-missing values. */
  count: number;
  /** Empty, NA, N/A, null or "-" (any case), including cells a short row lacks. */
  missing: number;
  distinct: number;
  /** Numeric for number columns, code-unit order for string and date columns, null for booleans. */
  min: number | string | null;
  max: number | string | null;
  /** Number columns only, rounded to 4 decimals. */
  mean: number | null;
}

export interface CsvProfile {
  rowCount: number;
  columns: ColumnProfile[];
}

export type ChartFieldType = 'quantitative' | 'nominal' | 'temporal';

export interface ChartEncoding {
  /** Escaped for Vega-Lite, where "." and "[]" in a field name would mean nested access. */
  field?: string;
  type: ChartFieldType;
  aggregate?: 'sum' | 'count';
  bin?: true;
  title: string;
}

export interface ChartSpec {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json';
  title: string;
  width: 'container';
  height: number;
  data: { values: Record<string, string | number | null>[] };
  mark: { type: 'bar' | 'line'; tooltip: true };
  encoding: { x: ChartEncoding; y: ChartEncoding };
}

/** Rows inlined in a chart; beyond this the spec gets too heavy to ship in an artifact. */
const CHART_ROW_LIMIT = 500;
const CHART_HEIGHT = 300;

const MISSING_MARKERS: ReadonlySet<string> = new Set(['', 'na', 'n/a', 'null', '-']);
const BOOLEAN_WORDS: ReadonlySet<string> = new Set(['true', 'false', 'yes', 'no']);
const PLAIN_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Splits CSV text into a header and rows (RFC 4180 quoting, CRLF or LF). Blank (or
 * whitespace-only) lines at either end are dropped. Header names are trimmed, and blank or
 * repeated ones renamed ("column 3", "price (2)") because callers key row objects by them. Rows
 * are not padded: a short row simply has fewer cells.
 */
export function parseCsv(text: string): ParsedCsv {
  const source = tableText(text.replace(/^\uFEFF/, ''));
  const records = dropBlankEnds(readRecords(source, detectDelimiter(source)));
  const [header, ...rows] = records;
  if (header === undefined) throw new Error('CSV is empty');
  // Rows pasted without a header: the first is data too, and the columns get plain names.
  if (header.every((cell) => isPlainNumber(cell.trim()) || isIsoDate(cell.trim()))) {
    return { header: nameColumns(header.map(() => '')), rows: records };
  }
  return { header: nameColumns(header), rows };
}

/**
 * Whether text holds a table: at least two of its first lines (after any lead-in, see
 * tableText) with the same number of cells, more than one.
 */
export function looksLikeCsv(text: string): boolean {
  const table = tableText(text);
  const delimiter = detectDelimiter(table);
  const lines = table
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .slice(0, 5);
  const counts = lines.map((line) => line.split(delimiter).length);
  return lines.length >= 2 && counts[0]! > 1 && counts.every((count) => count === counts[0]);
}

/**
 * The text from where its table starts. People paste rows after a question or a remark ("Here is
 * more data, what is the trend?"), which would otherwise be taken for the header: leading lines
 * that read as prose, or a lone cell before rows of several, are not part of the table.
 */
function tableText(text: string): string {
  const lines = text.split(/\r?\n/);
  let start = 0;
  while (
    start < lines.length - 1 &&
    isLeadIn(
      lines[start]!,
      lines.slice(start + 1).find((line) => line.trim() !== ''),
    )
  )
    start++;
  return lines.slice(start).join('\n');
}

function isLeadIn(line: string, next: string | undefined): boolean {
  if (line.trim() === '') return true;
  if (next === undefined) return false;
  const delimiter = detectDelimiter(line);
  const cells = cellsOf(line, delimiter);
  const reads = /[?!.:]$/.test(line.trim()) || cells.some((cell) => cell.trim().split(/\s+/).length > 4);
  return reads || (cells.length === 1 && cellsOf(next, detectDelimiter(next)).length > 1);
}

/** The cells of one line; a quoted field running on to the next line makes it one cell. */
function cellsOf(line: string, delimiter: string): string[] {
  try {
    return readRecords(line, delimiter)[0] ?? [line];
  } catch {
    return [line];
  }
}

export function profileCsv(text: string): CsvProfile {
  return profileParsed(parseCsv(text));
}

/**
 * A Vega-Lite v5 spec with the data inlined (first 500 rows): the first number column summed by
 * the first string or date column (a line over time for dates, bars otherwise; a boolean column
 * stands in when there is no string or date one); a histogram when every column with values is
 * numeric; otherwise row counts per value of the first column with values.
 */
export function chartSpecFor(name: string, text: string): ChartSpec {
  const parsed = parseCsv(text);
  const { rowCount, columns } = profileParsed(parsed);
  const populated = columns.filter((column) => column.count > 0);
  const measure = populated.find((column) => column.type === 'number');
  const category = populated.find((column) => column.type === 'string' || column.type === 'date') ?? populated.find((column) => column.type === 'boolean');

  let view: Pick<ChartSpec, 'mark' | 'encoding'> & { caption: string };
  if (measure && category) {
    const overTime = category.type === 'date';
    view = {
      caption: `Total ${measure.name} by ${category.name}`,
      mark: { type: overTime ? 'line' : 'bar', tooltip: true },
      encoding: {
        x: { field: fieldRef(category.name), type: overTime ? 'temporal' : 'nominal', title: category.name },
        y: { field: fieldRef(measure.name), type: 'quantitative', aggregate: 'sum', title: `Total ${measure.name}` },
      },
    };
  } else if (measure) {
    view = {
      caption: `Distribution of ${measure.name}`,
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: fieldRef(measure.name), type: 'quantitative', bin: true, title: measure.name },
        y: { aggregate: 'count', type: 'quantitative', title: 'Rows' },
      },
    };
  } else {
    // parseCsv never returns an empty header, so there is always a first column.
    const counted = populated[0] ?? columns[0]!;
    const countedType = counted.type === 'date' ? 'temporal' : 'nominal';
    view = {
      caption: `Rows by ${counted.name}`,
      mark: { type: 'bar', tooltip: true },
      encoding: {
        x: { field: fieldRef(counted.name), type: countedType, title: counted.name },
        y: { aggregate: 'count', type: 'quantitative', title: 'Rows' },
      },
    };
  }

  const truncated = rowCount > CHART_ROW_LIMIT ? ` (first ${CHART_ROW_LIMIT} of ${rowCount} rows)` : '';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${view.caption} — ${name}${truncated}`,
    width: 'container',
    height: CHART_HEIGHT,
    data: {
      values: parsed.rows
        .slice(0, CHART_ROW_LIMIT)
        .map((row) => Object.fromEntries(columns.map((column, index) => [column.name, chartValue(column, row[index])]))),
    },
    mark: view.mark,
    encoding: view.encoding,
  };
}

/**
 * The delimiter is whichever of `,` `;` or tab appears most in the first line (outside quotes);
 * comma wins ties because it is the standard one.
 */
export interface TrendPoint {
  at: string;
  value: number;
}

/** How a number moved over time: the first number column summed per date of the first date column. */
export interface Trend {
  over: string;
  of: string;
  from: TrendPoint;
  to: TrendPoint;
  change: number;
  /** Null when the series starts at zero, where a percentage means nothing. */
  changePercent: number | null;
  peak: TrendPoint;
  points: number;
}

/** The trend of the data over its first date column, or null when it has no dates to speak of. */
export function trendOf(text: string): Trend | null {
  const parsed = parseCsv(text);
  const { columns } = profileParsed(parsed);
  const time = columns.findIndex((column) => column.type === 'date' && column.count > 0);
  const measure = columns.findIndex((column) => column.type === 'number' && column.count > 0);
  if (time === -1 || measure === -1) return null;
  const totals = new Map<string, number>();
  for (const row of parsed.rows) {
    const at = (row[time] ?? '').trim();
    const value = (row[measure] ?? '').trim();
    if (isMissing(at) || isMissing(value)) continue;
    totals.set(at, (totals.get(at) ?? 0) + Number(value));
  }
  // Code-unit order is chronological for ISO dates.
  const series = [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([at, value]) => ({ at, value: round(value) }));
  const [from, to] = [series[0], series.at(-1)];
  if (!from || !to || series.length < 2) return null;
  const peak = series.reduce((best, point) => (point.value > best.value ? point : best));
  return {
    over: columns[time]!.name,
    of: columns[measure]!.name,
    from,
    to,
    change: round(to.value - from.value),
    changePercent: from.value === 0 ? null : round(((to.value - from.value) / Math.abs(from.value)) * 100),
    peak,
    points: series.length,
  };
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;

function detectDelimiter(text: string): string {
  let commas = 0;
  let semicolons = 0;
  let tabs = 0;
  let inQuotes = false;
  for (const char of text.replace(/^[\r\n]+/, '')) {
    if (char === '"') inQuotes = !inQuotes;
    else if (inQuotes) continue;
    else if (char === '\n' || char === '\r') break;
    else if (char === ',') commas++;
    else if (char === ';') semicolons++;
    else if (char === '\t') tabs++;
  }
  if (semicolons > commas && semicolons >= tabs) return ';';
  if (tabs > commas && tabs > semicolons) return '\t';
  return ',';
}

function readRecords(text: string, delimiter: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let quoteLine = 1;
  for (let index = 0; index < text.length; index++) {
    const char = text.charAt(index);
    if (inQuotes) {
      if (char !== '"') {
        if (char === '\n') line++;
        field += char;
      } else if (text[index + 1] === '"') {
        field += '"';
        index++;
      } else {
        inQuotes = false;
      }
    } else if (char === '"' && field === '') {
      inQuotes = true;
      quoteLine = line;
    } else if (char === delimiter) {
      record.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[index + 1] === '\n') index++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      line++;
    } else {
      // A stray quote inside an unquoted field, or text after a closing quote, is kept as is.
      field += char;
    }
  }
  if (inQuotes) throw new Error(`CSV has an unterminated quoted field starting on line ${quoteLine}`);
  record.push(field);
  records.push(record);
  return records;
}

function dropBlankEnds(records: string[][]): string[][] {
  const isBlank = (record: string[]): boolean => record.length === 1 && record[0]?.trim() === '';
  const first = records.findIndex((record) => !isBlank(record));
  if (first === -1) return [];
  const last = records.findLastIndex((record) => !isBlank(record));
  return records.slice(first, last + 1);
}

function nameColumns(header: string[]): string[] {
  const used = new Set<string>();
  return header.map((raw, index) => {
    const base = raw.trim() || `column ${index + 1}`;
    let name = base;
    for (let copy = 2; used.has(name); copy++) name = `${base} (${copy})`;
    used.add(name);
    return name;
  });
}

function profileParsed({ header, rows }: ParsedCsv): CsvProfile {
  return {
    rowCount: rows.length,
    columns: header.map((name, index) =>
      profileColumn(
        name,
        rows.map((row) => (row[index] ?? '').trim()),
      ),
    ),
  };
}

function profileColumn(name: string, cells: string[]): ColumnProfile {
  const values = cells.filter((cell) => !isMissing(cell));
  const type = inferType(values);
  const counts = { name, type, count: values.length, missing: cells.length - values.length };

  if (type === 'number') {
    const numbers = values.map(Number);
    const total = numbers.reduce((sum, value) => sum + value, 0);
    return {
      ...counts,
      distinct: new Set(numbers).size,
      min: numbers.reduce((low, value) => Math.min(low, value), Infinity),
      max: numbers.reduce((high, value) => Math.max(high, value), -Infinity),
      mean: Number((total / numbers.length).toFixed(4)),
    };
  }
  if (type === 'boolean') {
    // Ordering true/false/yes/no says nothing, so booleans have no min or max.
    const distinct = new Set(values.map((value) => value.toLowerCase())).size;
    return { ...counts, distinct, min: null, max: null, mean: null };
  }
  // Code-unit order rather than localeCompare: identical on every machine, and chronological for ISO dates.
  const [first, ...rest] = values;
  return {
    ...counts,
    distinct: new Set(values).size,
    min: first === undefined ? null : rest.reduce((low, value) => (value < low ? value : low), first),
    max: first === undefined ? null : rest.reduce((high, value) => (value > high ? value : high), first),
    mean: null,
  };
}

function inferType(values: string[]): ColumnType {
  if (values.length === 0) return 'string';
  if (values.every(isPlainNumber)) return 'number';
  if (values.every((value) => BOOLEAN_WORDS.has(value.toLowerCase()))) return 'boolean';
  if (values.every(isIsoDate)) return 'date';
  return 'string';
}

function isMissing(value: string): boolean {
  return MISSING_MARKERS.has(value.toLowerCase());
}

function isPlainNumber(value: string): boolean {
  return PLAIN_NUMBER.test(value) && Number.isFinite(Number(value));
}

/** An ISO date whose day exists in its month (no 2024-02-30). */
function isIsoDate(value: string): boolean {
  const match = ISO_DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function chartValue(column: ColumnProfile, cell: string | undefined): string | number | null {
  const value = (cell ?? '').trim();
  if (isMissing(value)) return null;
  return column.type === 'number' ? Number(value) : value;
}

function fieldRef(name: string): string {
  return name.replace(/[\\.[\]]/g, '\\$&');
}
