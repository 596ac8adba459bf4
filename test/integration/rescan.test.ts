/**
 * `jointban rescan` through the built CLI: the platform's users, some of whom are listed (through a
 * strong or a weak identifier, or through a retracted listing), go in; exactly the users whose
 * decision is not `allow` come out, with decision, penalties and matches, as JSON Lines or CSV.
 * Invalid users go to the rejects file; no raw identifier appears anywhere; a bad input is a
 * one-line error with a non-zero exit.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { queryNumber } from '../helpers/db-query.js';
import { DAY_MS } from '../helpers/fixtures.js';
import { createTestNode, tempDir, type TestNode } from '../helpers/test-node.js';

const P_DENY = '13966001001';
const E_REVIEW = 'weak.match@example.org';
const N_DENY = '11010519491231002X';
const P_RETRACTED = '13966001004';
const BAD_PHONE = '1396600';
const clean = (i: number) => `1396700${String(i).padStart(4, '0')}`;
const RAW = [P_DENY, E_REVIEW, N_DENY, P_RETRACTED, BAD_PHONE, 'carol.clean@example.org', ...Array.from({ length: 100 }, (_, i) => clean(i))];

interface Totals {
  rows: number;
  checked: number;
  flagged: number;
  deny: number;
  review: number;
  rejected: number;
  rejectsFile: string;
  out: string | null;
}

interface Flagged {
  reference: string;
  decision: string;
  penalties: { action: string; until: string | null; rule: string }[];
  matches: { listingId: string; origin: string; category: string; identifierType: string; banUntil: string | null }[];
}

let t: TestNode;
let work: string;
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestNode({ listen: false });
  const bannedAt = new Date(Date.now() - 10 * DAY_MS).toISOString();
  const base = { category: 'fraud', severity: 'severe', bannedAt, banUntil: null };
  const [deny, review, national, retracted] = await t.node.listings.createMany([
    { ...base, identifiers: [{ type: 'phone', value: P_DENY }], reference: 'banned-1' },
    { ...base, identifiers: [{ type: 'email', value: E_REVIEW }], reference: 'banned-2' },
    { ...base, identifiers: [{ type: 'national_id', value: N_DENY }], banUntil: new Date(Date.now() + 100 * DAY_MS).toISOString(), reference: 'banned-3' },
    { ...base, identifiers: [{ type: 'phone', value: P_RETRACTED }], reference: 'banned-4' },
  ]);
  await t.node.listings.retract(retracted!.id, 'appeal_upheld');
  Object.assign(ids, { deny: deny!.id, review: review!.id, national: national!.id });
  await t.close();
  work = tempDir('jointban-rescan-');
});
afterAll(async () => {
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

const USERS_CSV = [
  'reference,phone,email,national_id,device_id,payment_account',
  `alice,${P_DENY},,,,`,
  `bob,,${E_REVIEW},,,`,
  `carol,${clean(999)},carol.clean@example.org,,,`,
  `dave,${clean(998)},,${N_DENY},,`,
  `erin,${P_RETRACTED},,,,`,
  `frank,${BAD_PHONE},,,,`,
  'gina,,,,,',
  ...Array.from({ length: 100 }, (_, i) => `user-${i},${clean(i)},,,,`),
].join('\n');

async function rescan(file: string, args: string[] = []): Promise<{ result: CliResult; totals: Totals }> {
  const result = await runCli(['rescan', '--data-dir', t.dataDir, file, ...args]);
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stderr.trim().split('\n');
  return { result, totals: JSON.parse(lines.at(-1)!) as Totals };
}

function expectNoRaw(texts: string[]): void {
  const found = RAW.filter((raw) => texts.some((text) => text.includes(raw)));
  expect(found).toEqual([]);
}

describe('rescan of users, some of them listed', () => {
  it('writes out exactly the users not allowed, with decision, penalties and matches (JSON Lines)', async () => {
    const file = join(work, 'users.csv');
    writeFileSync(file, USERS_CSV);
    const out = join(work, 'flagged.jsonl');
    const { result, totals } = await rescan(file, ['--out', out]);
    expect(totals).toMatchObject({ rows: 107, checked: 105, flagged: 3, deny: 2, review: 1, rejected: 2, out, rejectsFile: `${file}.rejects.csv` });

    const flagged = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Flagged);
    expect(flagged.map((f) => [f.reference, f.decision])).toEqual([
      ['alice', 'deny'],
      ['bob', 'review'],
      ['dave', 'deny'],
    ]);
    expect(flagged[0]!.matches).toEqual([{ listingId: ids.deny, origin: 'alpha', category: 'fraud', identifierType: 'phone', banUntil: null }]);
    expect(flagged[0]!.penalties).toEqual([expect.objectContaining({ action: 'deny_registration', rule: 'registration.strong_identifier' })]);
    expect(flagged[1]!.matches.map((m) => m.listingId)).toEqual([ids.review]);
    expect(flagged[2]!.matches.map((m) => [m.listingId, m.identifierType])).toEqual([[ids.national, 'national_id']]);

    const rejects = readFileSync(`${file}.rejects.csv`, 'utf8');
    expect(rejects.split('\r\n')).toEqual(['row,reason', expect.stringMatching(/^7,identifiers\[0\] \(phone\): /), '8,"identifiers: none given, at least one is required"', '']);
    expectNoRaw([result.stdout, result.stderr, readFileSync(out, 'utf8'), rejects]);
  });

  it('writes CSV to stdout for a CSV input, and applies the monetization rules with --purpose', async () => {
    const file = join(work, 'users.csv');
    writeFileSync(file, USERS_CSV);
    const { result } = await rescan(file, ['--purpose', 'monetization']);
    const lines = result.stdout.split('\r\n');
    expect(lines[0]).toBe('reference,decision,penalties,listing_ids');
    expect(lines.slice(1, -1).map((l) => l.split(',').slice(0, 2))).toEqual([
      ['alice', 'deny'],
      ['bob', 'deny'],
      ['dave', 'deny'],
    ]);
    // A permanent ban suspends monetization without end; dave's ends at a date.
    expect(lines[1]).toBe(`alice,deny,suspend_monetization,${ids.deny}`);
    expect(lines[3]).toMatch(new RegExp(`^dave,deny,suspend_monetization@\\d{4}-\\d\\d-\\d\\dT[^,]+,${ids.national}$`));
    expectNoRaw([result.stdout, result.stderr]);
  });

  it('reads JSON Lines users', async () => {
    const file = join(work, 'users.jsonl');
    const users = [
      { reference: 'alice', identifiers: [{ type: 'phone', value: P_DENY }] },
      { reference: 'zoe', identifiers: [{ type: 'phone', value: clean(1) }] },
      { reference: 'yan', identifiers: [{ type: 'email', value: E_REVIEW.toUpperCase() }] },
    ];
    writeFileSync(file, `${users.map((u) => JSON.stringify(u)).join('\n')}\n{"reference":"x","identifiers":[],"extra":1}\n`);
    const { result, totals } = await rescan(file);
    expect(totals).toMatchObject({ rows: 4, checked: 3, flagged: 2, rejected: 1 });
    expect(
      result.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Flagged).reference),
    ).toEqual(['alice', 'yan']);
    expect(readFileSync(`${file}.rejects.csv`, 'utf8')).toBe('row,reason\r\n4,"unknown field (the fields are reference, identifiers)"\r\n');
  });
});

describe('rescan that cannot run', () => {
  it('fails with one line and a non-zero exit on a missing file, a bad purpose or a file without identifier columns', async () => {
    const missing = await runCli(['rescan', '--data-dir', t.dataDir, join(work, 'none.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^jointban: .*none\.csv: file not found\n$/);

    const file = join(work, 'users.csv');
    writeFileSync(file, USERS_CSV);
    const purpose = await runCli(['rescan', '--data-dir', t.dataDir, file, '--purpose', 'dating']);
    expect(purpose.code).toBe(1);
    expect(purpose.stderr).toBe('jointban: --purpose: must be one of registration, monetization\n');

    const noIds = join(work, 'refs.csv');
    writeFileSync(noIds, 'reference\nalice\n');
    const header = await runCli(['rescan', '--data-dir', t.dataDir, noIds]);
    expect(header.code).toBe(1);
    expect(header.stdout).toBe('');
    expect(header.stderr).toMatch(/^jointban: .*refs\.csv: header: needs at least one of the columns phone, email, national_id, device_id, payment_account\n$/);
  });
});

describe('the node after a rescan', () => {
  it('still holds its listings and counts the checks it served', async () => {
    const node = await createNode(loadConfig(t.dataDir, {}), { logger: createLogger('silent') });
    try {
      expect((await node.checks.check({ identifiers: [{ type: 'phone', value: P_DENY }] })).decision).toBe('deny');
      const served = { n: await queryNumber(node.database, 'SELECT sum(served) AS n FROM check_counts') };
      expect(served.n ?? 0).toBeGreaterThan(0);
    } finally {
      await node.stop();
    }
  });
});
