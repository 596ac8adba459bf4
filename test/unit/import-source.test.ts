/**
 * Reading bulk input (src/jobs/row-source.ts) from an in-memory stream: line numbers, blank
 * lines, CRLF and BOM, over-long lines, chunk boundaries, CSV headers and broken quoting, and that
 * no problem or error ever quotes the input.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { LISTING_COLUMNS, USER_COLUMNS } from '../../src/jobs/rows.js';
import { formatOf, MAX_ROW_CHARS, openRowSource, type CsvColumns, type InputFormat, type SourceRow } from '../../src/jobs/row-source.js';

const SECRET = '13800138000';

async function read(format: InputFormat, chunks: string[], columns: CsvColumns = USER_COLUMNS): Promise<SourceRow[]> {
  const source = await openRowSource({ file: '-', format, columns, stdin: Readable.from(chunks.map((c) => Buffer.from(c))) });
  const out: SourceRow[] = [];
  for await (const row of source.rows()) out.push(row);
  return out;
}

async function failure(format: InputFormat, chunks: string[], columns: CsvColumns = USER_COLUMNS): Promise<AppError> {
  try {
    await read(format, chunks, columns);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected the input to be refused');
}

describe('JSON Lines', () => {
  it('numbers rows by line, skips blank lines, strips a BOM and CR, and joins lines split across chunks', async () => {
    const rows = await read('jsonl', ['\uFEFF{"a":1}\r\n\n  \n{"b"', ':2}\n{"c":3}']);
    expect(rows).toEqual([
      { row: 1, ok: true, format: 'jsonl', value: { a: 1 } },
      { row: 4, ok: true, format: 'jsonl', value: { b: 2 } },
      { row: 5, ok: true, format: 'jsonl', value: { c: 3 } },
    ]);
  });

  it("makes a line that is not JSON, or too long, that row's problem and reads on", async () => {
    const long = `{"x":"${'y'.repeat(MAX_ROW_CHARS)}"}`;
    const rows = await read('jsonl', [`{"phone":"${SECRET}"\n`, long.slice(0, 500_000), long.slice(500_000), '\n{"ok":true}\n']);
    expect(rows).toEqual([
      { row: 1, ok: false, reason: 'not valid JSON' },
      { row: 2, ok: false, reason: `line longer than ${MAX_ROW_CHARS} characters` },
      { row: 3, ok: true, format: 'jsonl', value: { ok: true } },
    ]);
  });
});

describe('CSV', () => {
  it('maps cells by header name, case-insensitively and in any order, trimmed, with the file line as row', async () => {
    const rows = await read('csv', ['Phone, Reference\n', `${SECRET} ,u1\n\n"a\nb",u2\n`]);
    expect(rows).toEqual([
      {
        row: 2,
        ok: true,
        format: 'csv',
        cells: new Map([
          ['phone', SECRET],
          ['reference', 'u1'],
        ]),
      },
      {
        row: 5,
        ok: true,
        format: 'csv',
        cells: new Map([
          ['phone', 'a\nb'],
          ['reference', 'u2'],
        ]),
      },
    ]);
  });

  it("makes a row with the wrong number of fields that row's problem", async () => {
    expect(await read('csv', [`reference,phone\nu1\nu2,${SECRET},x\n`])).toEqual([
      { row: 2, ok: false, reason: 'has 1 fields, the header has 2' },
      { row: 3, ok: false, reason: 'has 3 fields, the header has 2' },
    ]);
  });

  it.each([
    ['an unknown column, by position', `reference,${SECRET}\n`, 'stdin: header: column 2 is not one of reference, phone, email, national_id, device_id, payment_account'],
    ['a repeated column', 'reference,phone,PHONE\n', 'stdin: header: column phone appears twice'],
    ['a missing required column', 'phone\n', 'stdin: header: the column reference is required'],
    ['no identifier column', 'reference\n', 'stdin: header: needs at least one of the columns phone, email, national_id, device_id, payment_account'],
  ])('refuses %s', async (_, text, message) => {
    expect((await failure('csv', [text])).message).toBe(message);
  });

  it('requires ban_until as a column for listings', async () => {
    expect((await failure('csv', ['reference,category,phone\n'], LISTING_COLUMNS)).message).toBe('stdin: header: the column ban_until is required');
  });

  it.each([
    ['a stray quote', `reference,phone\nu1,"${SECRET}"x\n`, 'stdin: the CSV structure is broken after line 1 (CSV_INVALID_CLOSING_QUOTE); nothing from there on was read'],
    ['a quote inside a field', `reference,phone\nu1,${SECRET} "x"\n`, 'stdin: the CSV structure is broken after line 1 (INVALID_OPENING_QUOTE); nothing from there on was read'],
    ['an unclosed quote', `reference,phone\nu1,"${SECRET}\n`, 'stdin: the CSV structure is broken after line 1 (CSV_QUOTE_NOT_CLOSED); nothing from there on was read'],
  ])('stops at %s with the last good line and the code, never the text', async (_, text, message) => {
    const err = await failure('csv', [text]);
    expect(err.message).toBe(message);
    expect(err.message).not.toContain(SECRET);
  });

  it('hands out every row before a break, then stops', async () => {
    const source = await openRowSource({ file: '-', format: 'csv', columns: USER_COLUMNS, stdin: Readable.from([Buffer.from(`reference,phone\nu1,1\nu2,2\nu3,"3"x\nu4,4\n`)]) });
    const rows: number[] = [];
    await expect(
      (async () => {
        for await (const row of source.rows()) rows.push(row.row);
      })(),
    ).rejects.toThrow('stdin: the CSV structure is broken after line 3 (CSV_INVALID_CLOSING_QUOTE); nothing from there on was read');
    expect(rows).toEqual([2, 3]);
  });
});

describe('the format', () => {
  it('comes from --format, else the extension', () => {
    expect(formatOf('a.CSV', undefined)).toBe('csv');
    expect(formatOf('a.ndjson', undefined)).toBe('jsonl');
    expect(formatOf('a.csv', 'jsonl')).toBe('jsonl');
    expect(() => formatOf('a.txt', undefined)).toThrow(/cannot tell the format/);
    expect(() => formatOf('-', undefined)).toThrow(/standard input: give --format/);
  });
});
