/**
 * `jointban import` runs in bounded memory: a file ten times longer does not raise the peak RSS of
 * the command (reported in its totals as `maxRssMb`), and the command runs within a small heap.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { DAY_MS } from '../helpers/fixtures.js';
import { createTestNode, tempDir, type TestNode } from '../helpers/test-node.js';

const HEADER = 'reference,category,banned_at,ban_until,expires_at,evidence_digest,phone,email,national_id,device_id,payment_account';

interface Totals {
  rows: number;
  listed: number;
  skipped: number;
  rejected: number;
  maxRssMb: number;
}

let t: TestNode;
let work: string;

beforeEach(async () => {
  t = await createTestNode({ listen: false });
  await t.close();
  work = tempDir('jointban-import-memory-');
});
afterEach(async () => {
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

async function importFile(file: string, env: Record<string, string>): Promise<Totals> {
  const result = await runCli(['import', '--data-dir', t.dataDir, file], env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Totals;
}

describe('memory', () => {
  // Every 20th row is valid and listed; the others are refused for their category, which costs
  // little, so the run stays short while every row still passes through the reader, the window of
  // rows and the rejects file. The child runs with a 96 MB heap, so a command that kept rows would
  // die of it; and whatever grows with the number of rows shows as a difference in peak RSS.
  const SMALL_HEAP = { NODE_OPTIONS: '--max-old-space-size=96' };
  const generate = (file: string, count: number) => {
    const bannedAt = new Date(Date.now() - DAY_MS).toISOString();
    const parts: string[] = [`${HEADER}\n`];
    for (let i = 0; i < count; i++) parts.push(`big-${i},${i % 20 === 0 ? 'fraud' : 'no_such_category'},${bannedAt},,,,139${String(i).padStart(8, '0')},big.${i}@example.org,,,\n`);
    writeFileSync(file, parts.join(''));
  };

  it('stays bounded: 200 000 rows peak within 50 MB of 20 000 rows, in a 96 MB heap', async () => {
    const small = join(work, 'small.csv');
    const large = join(work, 'large.csv');
    generate(small, 20_000);
    generate(large, 200_000);
    const a = await importFile(small, SMALL_HEAP);
    expect(a).toMatchObject({ rows: 20_000, listed: 1_000, rejected: 19_000 });
    const b = await importFile(large, SMALL_HEAP);
    expect(b).toMatchObject({ rows: 200_000, listed: 9_000, skipped: 1_000, rejected: 190_000 });
    expect(b.maxRssMb - a.maxRssMb).toBeLessThan(50);
  }, 120_000);
});
