/**
 * Rotating the token epoch end to end (docs/OPERATIONS.md, "Key and epoch rotation"): every node
 * adds epoch 2 beside epoch 1, checks match listings of either epoch and new listings carry both,
 * `jointban import --relist` lists the older bans again under both and retracts the old listings
 * (reason `relisted`), the retractions reach the peers, and once epoch 1 is removed from
 * every config the relisted bans still deny, the ones never relisted stop matching, and no raw
 * identifier was stored on the way.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { editEpochs, type EpochConfig } from '../helpers/epochs.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';

let fed: TestFederation | undefined;
const number = (n: number) => `+86 137 2222 ${String(n).padStart(4, '0')}`;
const id = (n: number) => [{ type: 'phone' as const, value: number(n) }];

afterEach(async () => {
  await fed?.stop();
  fed = undefined;
});

async function restartAll(f: TestFederation, edit: (epochs: EpochConfig[]) => EpochConfig[]): Promise<void> {
  for (const node of f.all) {
    await f.stopNode(node);
    editEpochs(node.dataDir, edit);
    await f.startNode(node);
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('a token epoch rotation with import --relist', () => {
  it('keeps every relisted ban matching across the overlap and after the old epoch is retired', async () => {
    fed = await createFederation(2);
    const f = fed;
    const alpha = f.get('alpha');
    const evidenceDigest = `sha256:${'ab'.repeat(32)}`;
    for (const n of [1, 2, 4]) await f.list('alpha', id(n), { reference: `user-${n}`, category: 'fraud', evidenceDigest });
    await f.waitForDecision('beta', id(4), 'deny');
    const before = await alpha.node.listings.get('alpha:1');

    // Overlap: every node holds epochs 1 and 2.
    const secret2 = randomBytes(32).toString('hex');
    await restartAll(f, (epochs) => [...epochs, { epoch: 2, secret: secret2 }]);
    await f.waitForDecision('beta', id(1), 'deny');
    const fresh = await f.list('alpha', id(3), { reference: 'user-3' });
    expect(fresh.tokens.map((t) => t.epoch)).toEqual([1, 2]);
    await f.waitForDecision('beta', id(3), 'deny');

    // The platform's own records: the raw identifiers with their references.
    const csv = join(f.dir, 'bans.csv');
    writeFileSync(
      csv,
      [
        'reference,category,ban_until,phone',
        `user-1,fraud,,${number(1)}`,
        `user-2,fraud,,${number(2)}`,
        `user-3,fraud,,${number(3)}`,
        `user-9,fraud,,${number(9)}`,
        // user-4's row names another account: it must not move the ban.
        `user-4,fraud,,${number(5)}`,
      ].join('\n') + '\n',
    );
    // As if a relist run had crashed after listing user-2 again and before retracting the old one.
    const two = await alpha.node.listings.get('alpha:2');
    await f.list('alpha', id(2), { reference: 'user-2', category: two.category, bannedAt: two.bannedAt, banUntil: two.banUntil, expiresAt: two.expiresAt, evidenceDigest });
    await f.stopNode('alpha');
    const first = await runCliJson<Record<string, number>>(['import', '--relist', '--data-dir', alpha.dataDir, csv]);
    expect(first).toMatchObject({ rows: 5, relisted: 2, current: 1, skipped: 1, rejected: 1 });
    const rejects = readFileSync(`${csv}.rejects.csv`, 'utf8');
    expect(rejects).toContain('not the account that was listed');
    expect(rejects).not.toContain('2222');
    // Idempotent: a second run finds nothing left to do.
    const second = await runCliJson<Record<string, number>>(['import', '--relist', '--data-dir', alpha.dataDir, csv]);
    expect(second).toMatchObject({ rows: 5, relisted: 0, current: 3, skipped: 1, rejected: 1 });
    const bad = await runCli(['import', '--relist', '--data-dir', alpha.dataDir, join(f.dir, 'missing.csv')]);
    expect(bad.code).not.toBe(0);
    await f.startNode('alpha');

    // One active listing per ban, under epoch 2, with the old listing's dates and evidence.
    const old = await alpha.node.listings.get('alpha:1');
    expect(old).toMatchObject({ status: 'retracted', retractionReason: 'relisted' });
    const relisted = (await alpha.node.database.db.selectFrom('listings').select('id').where('reference', '=', 'user-1').where('status', '=', 'active').execute()).map((r) => r.id);
    expect(relisted).toHaveLength(1);
    const now = await alpha.node.listings.get(relisted[0]!);
    expect(now).toMatchObject({ category: before.category, bannedAt: before.bannedAt, banUntil: before.banUntil, expiresAt: before.expiresAt, evidenceDigest });
    expect(now.tokens.map((t) => t.epoch)).toEqual([1, 2]);
    // The interrupted one was completed, not listed a third time.
    const userTwo = await alpha.node.database.db.selectFrom('listings').select(['id', 'status', 'retraction_reason']).where('reference', '=', 'user-2').orderBy('seq').execute();
    expect(userTwo.map((r) => [r.id, r.status, r.retraction_reason])).toEqual([
      ['alpha:2', 'retracted', 'relisted'],
      [expect.any(String), 'active', null],
    ]);

    // Relisting withdrew no ban: the audit's retraction rate does not count it.
    const report = await alpha.node.audit.report({ from: '2020-01-01T00:00:00.000Z', to: new Date(Date.now() + 60_000).toISOString() });
    expect(report.members.find((m) => m.member === 'alpha')?.retractionRate).toBe(0);

    // The retractions propagate; the bans keep denying through the new listings.
    await waitFor(async () => (await f.get('beta').node.listings.get('alpha:1')).status === 'retracted', { timeoutMs: 15_000, message: 'beta to see the retraction' });
    await waitFor(
      async () =>
        (
          await f
            .get('beta')
            .node.listings.get(relisted[0]!)
            .catch(() => undefined)
        )?.status === 'active',
      { timeoutMs: 15_000, message: 'beta to hold the new listing' },
    );
    for (const n of [1, 2, 3, 4]) expect((await f.check('beta', id(n))).decision).toBe('deny');

    // Retire epoch 1: the nodes start with epoch 2 alone.
    await restartAll(f, (epochs) => epochs.filter((e) => e.epoch !== 1));
    for (const n of [1, 2, 3]) {
      expect((await f.check('beta', id(n))).decision).toBe('deny');
      expect((await f.check('alpha', id(n))).decision).toBe('deny');
    }
    // Never relisted (its row named another account): it simply stops matching.
    expect((await f.check('beta', id(4))).decision).toBe('allow');

    // No raw identifier in any node's files (database, WAL, logs, configs).
    for (const node of f.all) {
      for (const file of filesUnder(node.dataDir)) {
        const bytes = readFileSync(file);
        for (const n of [1, 2, 3, 4, 5]) {
          expect(bytes.includes(Buffer.from(`137 2222 000${n}`)), file).toBe(false);
          expect(bytes.includes(Buffer.from(`1372222000${n}`)), file).toBe(false);
        }
      }
    }
  }, 180_000);
});
