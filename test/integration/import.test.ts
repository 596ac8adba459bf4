/**
 * `jointban import` through the built CLI against a real data directory: exact totals for CSV and
 * JSON Lines files with invalid rows of every kind, a rejects file that names rows and reasons and
 * never a value, listings checkable afterwards, re-runs that list nothing twice, duplicates and
 * retracted references skipped, progress lines when stderr is not a terminal, and one-line errors
 * with a non-zero exit when the command cannot run. Memory: import-memory.test.ts.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import { LogReader } from '../../src/store/log-repository.js';
import { CLI, ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { BAD_NATIONAL_ID, DAY_MS, FUTURE_NATIONAL_ID } from '../helpers/fixtures.js';
import { createTestNode, tempDir, type TestNode } from '../helpers/test-node.js';

const HEADER = 'reference,category,banned_at,ban_until,expires_at,evidence_digest,phone,email,national_id,device_id,payment_account';
const BAD_PHONE = '1395501';
const BAD_EMAIL = 'no-at-sign.example.org';
const phoneOf = (i: number) => `1395500${String(i).padStart(4, '0')}`;
const emailOf = (i: number) => `banned.user.${i}@example.org`;

interface Totals {
  rows: number;
  listed: number;
  skipped: number;
  rejected: number;
  seconds: number;
  rejectsFile: string;
  maxRssMb: number;
}

let t: TestNode;
let work: string;
const opened: JointbanNode[] = [];

beforeEach(async () => {
  t = await createTestNode({ listen: false });
  // The CLI opens the data directory itself; the test node only created it.
  await t.close();
  work = tempDir('jointban-import-');
});
afterEach(async () => {
  for (const node of opened.splice(0)) await node.stop();
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

async function openNode(): Promise<JointbanNode> {
  const node = await createNode(loadConfig(t.dataDir, {}), { logger: createLogger('silent') });
  opened.push(node);
  return node;
}

async function closeNodes(): Promise<void> {
  for (const node of opened.splice(0)) await node.stop();
}

async function importFile(file: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ result: CliResult; totals: Totals }> {
  const result = await runCli(['import', '--data-dir', t.dataDir, file, ...args], env);
  expect(result.code, result.stderr).toBe(0);
  return { result, totals: JSON.parse(result.stdout) as Totals };
}

async function logSize(): Promise<number> {
  const node = await openNode();
  const size = await new LogReader(node.database.db).size('alpha');
  await closeNodes();
  return size;
}

/** The rejects file as rows and reasons (RFC 4180: a quoted field has its quotes doubled). */
function readRejects(file: string): { row: number; reason: string }[] {
  const lines = readFileSync(file, 'utf8').split('\r\n');
  expect(lines[0]).toBe('row,reason');
  expect(lines.at(-1)).toBe('');
  return lines.slice(1, -1).map((line) => {
    const comma = line.indexOf(',');
    const field = line.slice(comma + 1);
    const reason = field.startsWith('"') ? field.slice(1, -1).replace(/""/g, '"') : field;
    return { row: Number(line.slice(0, comma)), reason };
  });
}

/** Every raw value a test used: none may appear in any output, file or the data directory. */
function expectNoRawValues(raw: readonly string[], texts: Record<string, string>): void {
  const files = readdirSync(t.dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  const blobs: [string, Buffer][] = [
    ...Object.entries(texts).map(([name, text]): [string, Buffer] => [name, Buffer.from(text)]),
    ...files.map((e): [string, Buffer] => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name))]),
  ];
  const found = blobs.flatMap(([name, bytes]) => raw.filter((value) => bytes.includes(Buffer.from(value))).map((value) => `${value} in ${name}`));
  expect(found).toEqual([]);
}

describe('a CSV file with invalid rows', () => {
  const bannedAt = new Date(Date.now() - 30 * DAY_MS).toISOString();
  const csvRow = (i: number, over: Partial<Record<string, string>> = {}) => {
    const cells = {
      reference: `user-${i}`,
      category: 'fraud',
      banned_at: bannedAt,
      ban_until: '',
      expires_at: '',
      evidence_digest: '',
      phone: phoneOf(i),
      email: emailOf(i),
      national_id: '',
      device_id: '',
      payment_account: '',
      ...over,
    };
    return HEADER.split(',')
      .map((c) => cells[c as keyof typeof cells])
      .join(',');
  };
  // Row i of the file is on line i + 2 (the header is line 1).
  const special: Record<number, { line: string; reason: RegExp | string }> = {
    10: { line: csvRow(10, { phone: BAD_PHONE }), reason: /^identifiers\[0\] \(phone\): / },
    20: { line: csvRow(20, { category: 'not_a_category' }), reason: /^category: must be one of .*fraud/ },
    30: { line: csvRow(30, { banned_at: 'last tuesday' }), reason: /^banned_at: must be a date-time/ },
    40: { line: csvRow(40, { phone: '', email: '' }), reason: 'identifiers: none given, at least one is required' },
    50: { line: csvRow(50, { national_id: BAD_NATIONAL_ID }), reason: /^identifiers\[2\] \(national_id\): / },
    60: { line: `user-60,fraud,${bannedAt},,${phoneOf(60)}`, reason: 'has 5 fields, the header has 11' },
    70: { line: csvRow(70, { evidence_digest: 'sha256:xyz' }), reason: /^evidence_digest: must be "sha256:"/ },
    80: { line: csvRow(80, { ban_until: new Date(Date.now() - 60 * DAY_MS).toISOString() }), reason: 'banUntil: must be after bannedAt' },
    90: { line: csvRow(90, { banned_at: new Date(Date.now() - 5 * 365 * DAY_MS).toISOString() }), reason: 'expiresAt: must be in the future' },
    95: { line: csvRow(95, { national_id: FUTURE_NATIONAL_ID }), reason: 'identifiers[2] (national_id): birth date is in the future' },
  };
  const lines = Array.from({ length: 300 }, (_, i) => {
    if (special[i]) return special[i].line;
    if (i === 100) return csvRow(100, { reference: 'user-5' }); // a duplicate: the first row wins
    if (i === 110) return csvRow(110, { phone: `${phoneOf(110)}|${phoneOf(1110)}` }); // two phones
    return csvRow(i);
  });
  const raw = [BAD_PHONE, BAD_NATIONAL_ID, FUTURE_NATIONAL_ID, ...Array.from({ length: 300 }, (_, i) => [phoneOf(i), emailOf(i)]).flat(), phoneOf(1110)];

  it('lists every valid row, rejects the others by row and reason, and shows progress lines', async () => {
    const file = join(work, 'bans.csv');
    writeFileSync(file, `${HEADER}\n${lines.join('\n')}\n`);
    const { result, totals } = await importFile(file, ['--batch-size', '50', '--progress-interval', '0']);
    expect(totals).toMatchObject({ rows: 300, listed: 289, skipped: 1, rejected: 10, rejectsFile: `${file}.rejects.csv` });

    const parsed = readRejects(`${file}.rejects.csv`);
    expect(parsed.map((r) => r.row)).toEqual(Object.keys(special).map((i) => Number(i) + 2));
    for (const { row, reason } of parsed) expect(reason).toMatch(special[row - 2]!.reason);

    // Not a terminal: one plain line per batch of 50 rows at --progress-interval 0.
    const progress = result.stderr.split('\n').filter((l) => /^import: \d+ rows \(listed \d+, skipped \d+, rejected \d+\), \d+ rows\/s, \d+%, about /.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(6);
    expectNoRawValues(raw, { stdout: result.stdout, stderr: result.stderr, rejects: readFileSync(`${file}.rejects.csv`, 'utf8') });

    const node = await openNode();
    const deny = await node.checks.check({ identifiers: [{ type: 'phone', value: phoneOf(0) }] });
    expect(deny.decision).toBe('deny');
    expect((await node.listings.get(deny.matches[0]!.listingId)).reference).toBe('user-0');
    // Both phones of row 110; the duplicate of user-5 was skipped, so its phone matches nothing.
    for (const phone of [phoneOf(110), phoneOf(1110)]) expect((await node.checks.check({ identifiers: [{ type: 'phone', value: phone }] })).decision).toBe('deny');
    expect((await node.checks.check({ identifiers: [{ type: 'phone', value: phoneOf(100) }] })).decision).toBe('allow');
    const user5 = await node.checks.check({ identifiers: [{ type: 'phone', value: phoneOf(5) }] });
    expect((await node.listings.get(user5.matches[0]!.listingId)).reference).toBe('user-5');
    // Rejected rows listed nothing.
    expect((await node.checks.check({ identifiers: [{ type: 'email', value: emailOf(20) }] })).decision).toBe('allow');
    expect((await node.checks.check({ identifiers: [{ type: 'phone', value: phoneOf(95) }] })).decision).toBe('allow');
  });

  it('lists nothing twice when run again: every listed row is skipped and the log does not grow', async () => {
    const file = join(work, 'bans.csv');
    writeFileSync(file, `${HEADER}\n${lines.join('\n')}\n`);
    await importFile(file);
    const size = await logSize();
    expect(size).toBe(289);
    const first = readFileSync(`${file}.rejects.csv`, 'utf8');
    const { totals } = await importFile(file);
    expect(totals).toMatchObject({ rows: 300, listed: 0, skipped: 290, rejected: 10 });
    expect(await logSize()).toBe(size);
    expect(readFileSync(`${file}.rejects.csv`, 'utf8')).toBe(first);
    // The import signed a checkpoint over what it appended: the log verifies from its first entry.
    const verify = await runCli(['verify', '--data-dir', t.dataDir]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/alpha\s+OK\s+289 entries/);
  });
});

describe('a JSON Lines file with invalid rows', () => {
  const bannedAt = new Date(Date.now() - 30 * DAY_MS).toISOString();
  const listing = (i: number) => ({
    reference: `user-${i}`,
    identifiers: [
      { type: 'phone', value: phoneOf(i) },
      { type: 'email', value: emailOf(i) },
    ],
    category: 'fraud',
    bannedAt,
    banUntil: null,
  });
  const special: Record<number, { line: string; reason: RegExp | string }> = {
    10: { line: `{"reference":"user-10","identifiers":[{"type":"phone","value":"${phoneOf(10)}"}`, reason: 'not valid JSON' },
    20: { line: JSON.stringify([phoneOf(20)]), reason: 'not a JSON object' },
    30: { line: JSON.stringify({ ...listing(30), phone: phoneOf(30) }), reason: /^unknown field \(the fields are reference, identifiers, / },
    40: { line: JSON.stringify({ ...listing(40), identifiers: [{ type: 'fax', value: phoneOf(40) }] }), reason: /^identifiers\[0\]\.type: must be one of phone, / },
    50: { line: JSON.stringify({ ...listing(50), banUntil: undefined }), reason: 'banUntil: required (null for a permanent ban)' },
    60: { line: JSON.stringify({ ...listing(60), severity: 'minor' }), reason: 'severity: only "severe" listings are shared' },
    70: { line: JSON.stringify({ ...listing(70), identifiers: [] }), reason: 'identifiers: none given, at least one is required' },
    80: {
      line: JSON.stringify({
        ...listing(80),
        identifiers: [
          { type: 'phone', value: phoneOf(80) },
          { type: 'email', value: BAD_EMAIL },
        ],
      }),
      reason: /^identifiers\[1\] \(email\): /,
    },
    90: { line: JSON.stringify({ ...listing(90), reference: 90 }), reason: /^reference: required/ },
  };
  // A blank line after row 150 shifts the line numbers of the rows after it by one.
  const lineOf = (i: number) => i + 1 + (i > 150 ? 1 : 0);
  const text = `${Array.from({ length: 300 }, (_, i) => {
    const line = special[i]?.line ?? JSON.stringify(i === 100 ? { ...listing(100), reference: 'user-3' } : listing(i));
    return i === 150 ? `${line}\n` : line;
  }).join('\n')}\n`;
  const raw = [BAD_EMAIL, ...Array.from({ length: 300 }, (_, i) => [phoneOf(i), emailOf(i)]).flat()];

  it('lists every valid row, skips duplicates across batches and references of retracted listings', async () => {
    const file = join(work, 'bans.jsonl');
    writeFileSync(file, text);
    // user-7 was listed before and retracted: the import must not list that person again.
    const before = await openNode();
    const old = await before.listings.create({
      identifiers: [{ type: 'payment_account', value: 'alipay:2088000000000007' }],
      category: 'fraud',
      severity: 'severe',
      banUntil: null,
      reference: 'user-7',
    });
    await before.listings.retract(old.id, 'appeal_upheld');
    await closeNodes();

    const { result, totals } = await importFile(file, ['--batch-size', '40']);
    expect(totals).toMatchObject({ rows: 300, listed: 289, skipped: 2, rejected: 9 });
    const rejects = readRejects(`${file}.rejects.csv`);
    const byLine = new Map(Object.keys(special).map((i) => [lineOf(Number(i)), special[Number(i)]!.reason]));
    expect(rejects.map((r) => r.row)).toEqual([...byLine.keys()]);
    for (const { row, reason } of rejects) expect(reason).toMatch(byLine.get(row)!);
    expectNoRawValues(raw, { stdout: result.stdout, stderr: result.stderr, rejects: readFileSync(`${file}.rejects.csv`, 'utf8') });

    const node = await openNode();
    for (const [i, decision] of [
      [0, 'deny'],
      [299, 'deny'],
      [3, 'deny'],
      [7, 'allow'],
      [100, 'allow'],
      [80, 'allow'],
    ] as const) {
      expect((await node.checks.check({ identifiers: [{ type: 'phone', value: phoneOf(i) }] })).decision, `user-${i}`).toBe(decision);
    }
    expect(await new LogReader(node.database.db).size('alpha')).toBe(2 + 289);
  });

  it('reads standard input with --format and --rejects', async () => {
    const rejectsFile = join(work, 'stdin.rejects.csv');
    const child = spawn(process.execPath, [CLI, 'import', '--data-dir', t.dataDir, '-', '--format', 'jsonl', '--rejects', rejectsFile], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stdin.end(text);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ rows: 300, listed: 290, skipped: 1, rejected: 9, rejectsFile });
    expect(readRejects(rejectsFile)).toHaveLength(9);
  });
});

describe('when the command cannot run', () => {
  const expectOneLineError = (result: CliResult, message: RegExp) => {
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^jointban: [^\n]*\n$/);
    expect(result.stderr).toMatch(message);
  };

  it('a missing file, an unknown format, a missing --format or --rejects for stdin, a bad data directory', async () => {
    expectOneLineError(await runCli(['import', '--data-dir', t.dataDir, join(work, 'nope.csv')]), /nope\.csv: file not found/);
    writeFileSync(join(work, 'bans.txt'), `${HEADER}\n`);
    expectOneLineError(await runCli(['import', '--data-dir', t.dataDir, join(work, 'bans.txt')]), /cannot tell the format .* --format csv or --format jsonl/);
    expectOneLineError(await runCli(['import', '--data-dir', t.dataDir, '-']), /standard input: give --format/);
    expectOneLineError(await runCli(['import', '--data-dir', t.dataDir, '-', '--format', 'csv']), /standard input: give --rejects/);
    writeFileSync(join(work, 'bans.csv'), `${HEADER}\n`);
    expectOneLineError(await runCli(['import', '--data-dir', join(work, 'no-such-dir'), join(work, 'bans.csv')]), /config .*: file not found/);
  });

  it('a header that is not one, naming the column by position and never echoing the cell', async () => {
    const file = join(work, 'no-header.csv');
    writeFileSync(file, `user-1,fraud,,,,,${phoneOf(1)},,,,\n`);
    const result = await runCli(['import', '--data-dir', t.dataDir, file]);
    expectOneLineError(result, /header: column 1 is not one of reference, /);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toContain(phoneOf(1));
    expect(result.stderr).not.toContain('user-1');
  });

  it('a broken CSV quote stops the run with its line; fixing the line and re-running lists the rest once', async () => {
    const bannedAt = new Date(Date.now() - DAY_MS).toISOString();
    const row = (i: number) => `user-${i},fraud,${bannedAt},,,,${phoneOf(i)},,,,`;
    const rows = Array.from({ length: 120 }, (_, i) => row(i));
    const broken = [...rows];
    broken[98] = `user-98,fraud,${bannedAt},,,,"${phoneOf(98)}"x,,,,`; // line 100
    const file = join(work, 'broken.csv');
    writeFileSync(file, `${HEADER}\n${broken.join('\n')}\n`);
    const result = await runCli(['import', '--data-dir', t.dataDir, file, '--batch-size', '10']);
    expectOneLineError(result, /broken\.csv: the CSV structure is broken after line 99 \(CSV_INVALID_CLOSING_QUOTE\); nothing from there on was read/);
    expect(result.stderr).not.toContain(phoneOf(98));
    // Every row before the break was handled; none after it was read.
    const partial = JSON.parse(result.stdout) as Totals;
    expect(partial).toMatchObject({ rows: 98, listed: 98, skipped: 0, rejected: 0 });

    writeFileSync(file, `${HEADER}\n${rows.join('\n')}\n`);
    const { totals } = await importFile(file);
    expect(totals).toMatchObject({ rows: 120, listed: 22, skipped: 98, rejected: 0 });
    expect(await logSize()).toBe(120);
  });

  // "张三" in GBK (D5 C5 C8 FD): read leniently it was U+FFFD, so different names shared one token.
  const GBK_NAME = Buffer.from([0xd5, 0xc5, 0xc8, 0xfd]);
  it.each(['csv', 'jsonl'] as const)('a %s file with a GBK byte sequence stops at its line and byte offset; converted, re-running lists the rest once', async (format) => {
    const bannedAt = new Date(Date.now() - DAY_MS).toISOString();
    const csvRow = (i: number, email: string) => `user-${i},fraud,${bannedAt},,,,${phoneOf(i)},${email},,,`;
    const jsonRow = (i: number, email: string) =>
      JSON.stringify({
        reference: `user-${i}`,
        identifiers: [
          { type: 'phone', value: phoneOf(i) },
          { type: 'email', value: email },
        ],
        category: 'fraud',
        bannedAt,
        banUntil: null,
      });
    const row = format === 'csv' ? csvRow : jsonRow;
    const head = format === 'csv' ? `${HEADER}\n` : '';
    // Row 40 (line 41 in CSV, 40 in JSON Lines) names 张三@example.org, in GBK bytes.
    const before = Buffer.from(head + Array.from({ length: 39 }, (_, i) => `${row(i + 1, emailOf(i + 1))}\n`).join(''), 'utf8');
    const [start, end] = row(40, 'NAME@example.org').split('NAME') as [string, string];
    const after = Array.from({ length: 20 }, (_, i) => `${row(i + 41, emailOf(i + 41))}\n`).join('');
    const file = join(work, `gbk.${format}`);
    writeFileSync(file, Buffer.concat([before, Buffer.from(start), GBK_NAME, Buffer.from(`${end}\n${after}`)]));
    const line = format === 'csv' ? 41 : 40;
    const offset = before.length + Buffer.byteLength(start);
    const result = await runCli(['import', '--data-dir', t.dataDir, file, '--batch-size', '10']);
    expectOneLineError(result, new RegExp(`gbk\\.${format}: line ${line} is not valid UTF-8 \\(byte offset ${offset}\\); .*nothing from line ${line} on was read`));
    // Every row before the bad line was listed; nothing from it on was read or written.
    expect(JSON.parse(result.stdout) as Totals).toMatchObject({ rows: 39, listed: 39, skipped: 0, rejected: 0 });
    expect(await logSize()).toBe(39);

    writeFileSync(file, Buffer.concat([before, Buffer.from(`${start}张三${end}\n${after}`)]));
    const { totals } = await importFile(file);
    expect(totals).toMatchObject({ rows: 60, listed: 21, skipped: 39, rejected: 0 });
    expect(await logSize()).toBe(60);
  });
});
