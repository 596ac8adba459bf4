/**
 * The rows of a bulk input file (docs/IMPORT.md), read as a stream: CSV with a header row
 * (csv-parse) or JSON Lines. Rows are pulled one at a time by `for await`, so the file is read only
 * as fast as the caller consumes it and memory holds a chunk, not the file.
 *
 * The file is the platform's own data and full of raw identifiers: nothing read here is ever put in
 * an error or a row problem. Problems name a line number and what is wrong, never a cell's text
 * (csv-parse's own messages can quote a field, so only its error code is used).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { CsvError, parse, type Info } from 'csv-parse';
import { AppError } from '../errors.js';
import { strictUtf8 } from './strict-utf8.js';

export const INPUT_FORMATS = ['csv', 'jsonl'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** Longer rows are refused: no real row comes near it, and it bounds the memory of one row. */
export const MAX_ROW_CHARS = 1_048_576;

/** One row of the input: its line number and its content, or why it cannot be read. */
export type SourceRow =
  | { row: number; ok: true; format: 'jsonl'; value: unknown }
  | { row: number; ok: true; format: 'csv'; cells: ReadonlyMap<string, string> }
  | { row: number; ok: false; reason: string };

/** The CSV columns a command understands. */
export interface CsvColumns {
  known: readonly string[];
  required: readonly string[];
  /** At least one of these must be present (the identifier columns). */
  oneOf: readonly string[];
}

export interface RowSource {
  readonly format: InputFormat;
  /** What the input is called in messages: the path, or `stdin`. */
  readonly name: string;
  /** The file's size in bytes; undefined for stdin. */
  readonly totalBytes: number | undefined;
  bytesRead(): number;
  /** The rows, once: every call returns the same generator. */
  rows(): AsyncGenerator<SourceRow>;
  /** Releases the input when the rows will not be read (reading them to the end closes it too). */
  close(): void;
}

export interface OpenSourceOptions {
  /** A path, or `-` for standard input. */
  file: string;
  format?: InputFormat | undefined;
  columns: CsvColumns;
  /** Standard input, replaceable in tests. */
  stdin?: Readable;
}

/** The format named by `--format`, else by the file's extension. */
export function formatOf(file: string, format: InputFormat | undefined): InputFormat {
  if (format !== undefined) return format;
  if (file === '-') throw new AppError('invalid_input', 'reading standard input: give --format csv or --format jsonl');
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  throw new AppError('invalid_input', `${file}: cannot tell the format from the file name: give --format csv or --format jsonl`);
}

export async function openRowSource(options: OpenSourceOptions): Promise<RowSource> {
  const format = formatOf(options.file, options.format);
  if (options.file === '-') {
    const input = options.stdin ?? process.stdin;
    // No size, so no ETA: progress shows the rate only (a byte counter would need a 'data'
    // listener, which would switch the stream to flowing mode and defeat backpressure).
    return source('stdin', format, undefined, () => 0, input, options.columns);
  }
  const info = await stat(options.file).catch((err: NodeJS.ErrnoException) => {
    throw new AppError('invalid_input', `${options.file}: ${err.code === 'ENOENT' ? 'file not found' : `cannot read (${err.code ?? 'error'})`}`);
  });
  if (!info.isFile()) throw new AppError('invalid_input', `${options.file}: not a file`);
  const input = createReadStream(options.file, { highWaterMark: 65_536 });
  // Opening errors (a file that is not readable) arrive asynchronously: wait for one or the other.
  await new Promise<void>((resolve, reject) => {
    input.once('ready', () => resolve());
    input.once('error', (err: NodeJS.ErrnoException) => reject(new AppError('invalid_input', `${options.file}: cannot read (${err.code ?? 'error'})`)));
  });
  return source(options.file, format, info.size, () => input.bytesRead, input, options.columns);
}

async function source(name: string, format: InputFormat, totalBytes: number | undefined, bytesRead: () => number, input: Readable, columns: CsvColumns): Promise<RowSource> {
  // Bytes, decoded strictly: an invalid byte ends the rows as a broken CSV structure does.
  const decoded = strictUtf8(name, input as AsyncIterable<Buffer | string>, MAX_ROW_CHARS);
  const rows = format === 'csv' ? await primed(csvRows(name, Readable.from(decoded.text), columns, decoded.failure)) : jsonlRows(name, decoded.text, decoded.failure);
  return { format, name, totalBytes, bytesRead, rows: () => rows, close: () => input.destroy() };
}

/**
 * Reads up to the first row now, so a bad CSV header fails the command before anything else is
 * opened or printed; the row read is handed out first.
 */
async function primed(rows: AsyncGenerator<SourceRow>): Promise<AsyncGenerator<SourceRow>> {
  const first = await rows.next();
  return (async function* () {
    if (first.done) return;
    yield first.value;
    yield* rows;
  })();
}

function readError(name: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  return new AppError('invalid_input', `${name}: cannot read (${code ?? 'read error'})`);
}

/**
 * JSON Lines: one object per line. A line that is not JSON is that row's problem, not the file's:
 * every line stands alone. Blank lines are skipped (they still count as lines).
 */
async function* jsonlRows(name: string, input: AsyncIterable<string>, decodingFailure: () => AppError | undefined): AsyncGenerator<SourceRow> {
  try {
    for await (const { line, text } of lines(input)) {
      if (text === undefined) {
        yield { row: line, ok: false, reason: `line longer than ${MAX_ROW_CHARS} characters` };
        continue;
      }
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        // JSON.parse's message quotes the text around the error: never pass it on.
        yield { row: line, ok: false, reason: 'not valid JSON' };
        continue;
      }
      yield { row: line, ok: true, format: 'jsonl', value };
    }
  } catch (err) {
    throw decodingFailure() ?? readError(name, err);
  }
  const failure = decodingFailure();
  if (failure) throw failure;
}

/** Splits text into lines (LF or CRLF) as it arrives; a too-long line comes out as `undefined`. */
async function* lines(input: AsyncIterable<string>): AsyncGenerator<{ line: number; text: string | undefined }> {
  let pending = '';
  let tooLong = false;
  let line = 0;
  const emit = (piece: string) => {
    line++;
    let text = tooLong || pending.length + piece.length > MAX_ROW_CHARS ? undefined : pending + piece;
    if (text !== undefined && line === 1 && text.startsWith('\uFEFF')) text = text.slice(1);
    if (text?.endsWith('\r')) text = text.slice(0, -1);
    pending = '';
    tooLong = false;
    return { line, text };
  };
  for await (const chunk of input) {
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      yield emit(chunk.slice(start, nl));
      start = nl + 1;
    }
    const rest = chunk.slice(start);
    if (tooLong) continue;
    // Past the limit the rest of the line is dropped as it arrives, so memory stays bounded.
    if (pending.length + rest.length > MAX_ROW_CHARS) {
      tooLong = true;
      pending = '';
    } else {
      pending += rest;
    }
  }
  if (pending !== '' || tooLong) yield emit('');
}

/**
 * CSV (RFC 4180) with a header row naming the columns, in any order. A row with the wrong number
 * of fields is that row's problem. A break in the quoting (a stray or unclosed quote) or an
 * oversized record is fatal: past it nothing can be trusted to be split where the writer meant.
 * Every row before it is still handed out, so the caller can finish them first: csv-parse reports
 * the break as a `skip` event, and the rows it parsed before the break are still in its buffer.
 */
async function* csvRows(name: string, input: Readable, columns: CsvColumns, decodingFailure: () => AppError | undefined): AsyncGenerator<SourceRow> {
  const parser = parse({
    bom: true,
    info: true,
    trim: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_ROW_CHARS,
    skip_records_with_error: true,
  });
  let broken: { code: string; line: number } | undefined;
  parser.on('skip', (err: CsvError) => {
    broken ??= { code: err.code, line: typeof err.lines === 'number' ? err.lines : 0 };
  });
  input.once('error', (err) => parser.destroy(err));
  input.pipe(parser);
  let header: string[] | undefined;
  let lastLine = 0;
  // Only csv-parse's error code: its messages can quote a field.
  const brokenError = (code: string) => new AppError('invalid_input', `${name}: the CSV structure is broken after line ${lastLine} (${code}); nothing from there on was read`);
  try {
    for await (const item of parser as AsyncIterable<{ info: Info; record: string[] }>) {
      const { info, record } = item;
      if (broken && info.lines >= broken.line) throw brokenError(broken.code);
      lastLine = info.lines;
      if (header === undefined) {
        header = checkHeader(name, record, columns);
        continue;
      }
      if (record.length !== header.length) {
        yield { row: info.lines, ok: false, reason: `has ${record.length} fields, the header has ${header.length}` };
        continue;
      }
      const cells = new Map<string, string>();
      header.forEach((column, i) => cells.set(column, record[i] ?? ''));
      yield { row: info.lines, ok: true, format: 'csv', cells };
    }
    // The text ended at an invalid byte: that, not what its end did to the quoting, is the cause.
    if (decodingFailure()) throw decodingFailure();
    if (broken) throw brokenError(broken.code);
  } catch (err) {
    const failure = decodingFailure();
    if (failure) throw failure;
    if (err instanceof CsvError) throw brokenError(err.code);
    throw readError(name, err);
  } finally {
    input.unpipe(parser);
    input.destroy();
  }
}

/** Column names are matched case-insensitively; an unknown one is named by position, not text. */
function checkHeader(name: string, record: readonly string[], columns: CsvColumns): string[] {
  const header = record.map((h) => h.toLowerCase());
  header.forEach((column, i) => {
    // A file without a header row would have data here: say which column, never what it holds.
    if (!columns.known.includes(column)) throw new AppError('invalid_input', `${name}: header: column ${i + 1} is not one of ${columns.known.join(', ')}`);
    if (header.indexOf(column) !== i) throw new AppError('invalid_input', `${name}: header: column ${column} appears twice`);
  });
  for (const column of columns.required) {
    if (!header.includes(column)) throw new AppError('invalid_input', `${name}: header: the column ${column} is required`);
  }
  if (!columns.oneOf.some((c) => header.includes(c))) throw new AppError('invalid_input', `${name}: header: needs at least one of the columns ${columns.oneOf.join(', ')}`);
  return header;
}

/**
 * Feeds each row to `handle` until the input ends or `stop()` says so. An error of the input (not
 * of `handle`) is returned, so the caller can still finish what it read before it.
 */
export async function eachRow(source: RowSource, handle: (row: SourceRow) => Promise<void>, stop: () => boolean): Promise<AppError | undefined> {
  const rows = source.rows();
  try {
    for (;;) {
      let next: IteratorResult<SourceRow>;
      try {
        next = await rows.next();
      } catch (err) {
        if (err instanceof AppError) return err;
        throw err;
      }
      if (next.done) return undefined;
      await handle(next.value);
      if (stop()) return undefined;
    }
  } finally {
    // Closes the input when the loop ends early (an interruption, an error in `handle`).
    await rows.return(undefined);
  }
}
