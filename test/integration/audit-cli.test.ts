/**
 * `jointban report` and `jointban evidence digest|verify` as a user runs them: the built CLI as a
 * child process on the data directory of a real node (stopped first, so its check counts are
 * flushed). Failures are one `jointban: …` line on stderr and a non-zero exit.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedReport, makeClock, RAW_VALUES, seedAuditHistory, WINDOW, type Seeded } from '../helpers/audit-data.js';
import { runCli, runCliJson, type CliResult } from '../helpers/cli.js';
import { json, listingBody, type CreatedListingBody } from '../helpers/fixtures.js';
import { createTestNode, tempDir, type TestNode } from '../helpers/test-node.js';

const clock = makeClock('2025-02-01T00:00:00.000Z');
let t: TestNode;
let seeded: Seeded;
let work: string;
let withEvidence: string;
let withoutEvidence: string;
let files: string[];

/** The digest computed here with node:crypto alone, independently of src/audit/evidence.ts. */
function independentDigest(contents: Buffer[]): string {
  const hashes = contents.map((c) => createHash('sha256').update(c).digest('hex')).sort();
  return `sha256:${createHash('sha256')
    .update(`jointban-evidence/v1\n${hashes.map((h) => `${h}\n`).join('')}`)
    .digest('hex')}`;
}

beforeAll(async () => {
  work = tempDir('jointban-audit-cli-');
  files = [join(work, 'screenshot.png'), join(work, 'chat-log.txt'), join(work, 'big.bin')];
  writeFileSync(files[0]!, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
  writeFileSync(files[1]!, 'user said: send the deposit first\n');
  writeFileSync(files[2]!, Buffer.alloc(3 * 1024 * 1024 + 17, 0x5a));

  t = await createTestNode({ now: clock.now });
  seeded = await seedAuditHistory(t, clock);
  const digest = independentDigest(files.map((f) => readFileSync(f)));
  const list = async (overrides: Record<string, unknown>) => {
    const res = await t.request('POST', '/v1/listings', { key: seeded.writeKey, body: listingBody(overrides, clock.now()) });
    expect(res.status).toBe(201);
    return (await json<CreatedListingBody>(res)).id;
  };
  withEvidence = await list({ evidenceDigest: digest });
  withoutEvidence = await list({});
  await t.close();
});
afterAll(async () => {
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

function expectOneLineError(result: CliResult, message: RegExp): void {
  expect(result.code).not.toBe(0);
  expect(result.code).not.toBeNull();
  expect(result.stderr).toMatch(/^jointban: [^\n]+\n$/);
  expect(result.stderr).toMatch(message);
}

function expectNoIdentifiers(text: string): void {
  for (const raw of RAW_VALUES) expect(text).not.toContain(raw);
  for (const token of seeded.tokens) expect(text).not.toContain(token);
}

describe('jointban report', () => {
  const base = () => ['report', '--data-dir', t.dataDir, '--from', '2025-03-01', '--to', '2025-04-01'];

  it('writes the JSON report to --out: the same numbers as the API, with node, federation and window', async () => {
    const out = join(work, 'report.json');
    const result = await runCli([...base(), '--format', 'json', '--out', out]);
    expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const text = readFileSync(out, 'utf8');
    expectNoIdentifiers(text);
    const report = JSON.parse(text) as { generatedAt: string };
    expect(Date.parse(report.generatedAt)).not.toBeNaN();
    expect(report).toEqual({ ...expectedReport(seeded), generatedAt: report.generatedAt });
  });

  it('writes CSV with a header row and one row per member', async () => {
    const out = join(work, 'report.csv');
    expect((await runCli([...base(), '--format', 'csv', '--out', out])).code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expectNoIdentifiers(text);
    const lines = text.split('\r\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]!.startsWith('federation,node,from,to,generated_at,member,listings,retractions,retraction_rate,')).toBe(true);
    expect(lines[1]!.startsWith(`jointban.example,alpha,${WINDOW.from},${WINDOW.to},`)).toBe(true);
    expect(lines[1]!.split(',').slice(5, 9)).toEqual(['alpha', '14', '4', '0.2143']);
  });

  it('prints to stdout without --out', async () => {
    const report = await runCliJson<{ node: string; members: { member: string }[] }>(base());
    expect(report.node).toBe('alpha');
    expect(report.members.map((m) => m.member)).toEqual(['alpha', 'beta', 'gamma']);
  });

  it.each([
    [['--from', '2025-03-01', '--to', '2025-02-01'], /--to: must be after --from/],
    [['--from', 'last-year', '--to', '2025-02-01'], /--from: must be an ISO-8601/],
    [['--from', '2024-01-01', '--to', '2025-06-01'], /longer than 366 days/],
    [['--from', '2025-03-01', '--to', '2025-04-01', '--format', 'xlsx'], /--format: must be json or csv/],
    [['--from', '2025-03-01', '--to', '2025-04-01', '--out', '/nonexistent/dir/r.json'], /--out: cannot write/],
  ])('rejects %j with one line', async (args, message) => {
    expectOneLineError(await runCli(['report', '--data-dir', t.dataDir, ...args]), message);
  });
});

describe('jointban apikey create --scope auditor', () => {
  it('creates an auditor key, and the help says what each scope grants', async () => {
    const created = await runCliJson<{ scope: string; key: string }>(['apikey', 'create', '--data-dir', t.dataDir, '--scope', 'auditor', '--name', 'regulator']);
    expect(created.scope).toBe('auditor');
    expect(created.key).toMatch(/^jb_/);
    const help = await runCli(['apikey', 'create', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('admin (also write, check, auditor); auditor');
  });
});

describe('jointban evidence digest', () => {
  it('prints the digest of the files, the same in any order', async () => {
    const expected = independentDigest(files.map((f) => readFileSync(f)));
    const one = await runCli(['evidence', 'digest', ...files]);
    expect(one).toMatchObject({ code: 0, stdout: `${expected}\n`, stderr: '' });
    const other = await runCli(['evidence', 'digest', files[2]!, files[0]!, files[1]!]);
    expect(other.stdout).toBe(`${expected}\n`);
  });

  it('with --json also prints each file’s SHA-256 and size', async () => {
    const out = await runCliJson<{ format: string; digest: string; files: { file: string; sha256: string; bytes: number }[] }>(['evidence', 'digest', '--json', files[1]!]);
    const content = readFileSync(files[1]!);
    expect(out).toEqual({
      format: 'jointban-evidence/v1',
      digest: independentDigest([content]),
      files: [{ file: files[1], sha256: createHash('sha256').update(content).digest('hex'), bytes: content.length }],
    });
  });

  it.each([
    [() => [join(work, 'missing.txt')], /cannot read .*missing\.txt \(ENOENT\)/],
    [() => [work], /is not a regular file/],
    [() => [files[0]!, files[0]!], /is given twice/],
  ])('rejects bad files with one line (%#)', async (args, message) => {
    expectOneLineError(await runCli(['evidence', 'digest', ...args()]), message);
  });
});

describe('jointban evidence verify', () => {
  const verify = (listing: string, paths: string[]) => runCli(['evidence', 'verify', '--data-dir', t.dataDir, '--listing', listing, ...paths]);

  it('matches the evidence handed over, in any order and under other names', async () => {
    const renamed = join(work, 'renamed.bin');
    renameSync(files[2]!, renamed);
    try {
      const result = await verify(withEvidence, [renamed, files[1]!, files[0]!]);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toMatchObject({ listing: withEvidence, result: 'match', committed: independentDigest(files.map((f, i) => readFileSync(i === 2 ? renamed : f))) });
    } finally {
      renameSync(renamed, files[2]!);
    }
  });

  it('says mismatch and exits non-zero when a file was changed or is missing', async () => {
    const changed = join(work, 'chat-log-edited.txt');
    writeFileSync(changed, 'user said: send the deposit first!\n');
    const edited = await verify(withEvidence, [files[0]!, changed, files[2]!]);
    expectOneLineError(edited, /mismatch: the 3 file\(s\) do not match the evidence digest committed in alpha:/);
    expect(JSON.parse(edited.stdout)).toMatchObject({ result: 'mismatch' });
    expectOneLineError(await verify(withEvidence, [files[0]!, files[1]!]), /^jointban: mismatch/);
  });

  it('refuses a listing without a digest, an unknown listing and a retraction entry', async () => {
    expectOneLineError(await verify(withoutEvidence, files), /has no evidence digest/);
    expectOneLineError(await verify('alpha:999', files), /holds no entry alpha:999/);
    expectOneLineError(await verify('not-an-id', files), /--listing: listing id/);
    // alpha:7 is W1's retraction (4 listings, W1, W2, then the retraction).
    expectOneLineError(await verify('alpha:7', files), /alpha:7 is a retraction entry, not a listing/);
  });
});
