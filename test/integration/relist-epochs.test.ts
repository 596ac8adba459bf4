/**
 * runRelist across the epochs a node holds (jobs/relist.ts): a ban listed without the newest
 * epoch is listed again under every epoch held and the old listing retracted; a listing of an
 * earlier overlap, carrying an epoch retired since, is recognised by the epochs still held; one
 * carrying only retired epochs cannot be recognised and is refused.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHmacTokenDeriver } from '../../src/identifiers/tokens.js';
import { Tokenizer } from '../../src/service/tokenizer.js';
import { RejectsFile } from '../../src/jobs/output.js';
import { LISTING_COLUMNS } from '../../src/jobs/rows.js';
import { openRowSource } from '../../src/jobs/row-source.js';
import { ListingService } from '../../src/service/listings.js';
import { runRelist, type RelistResult } from '../../src/jobs/relist.js';
import { createTestNode, TEST_EPOCH_SECRET, type TestNode } from '../helpers/test-node.js';

let t: TestNode;

beforeEach(async () => {
  t = await createTestNode({ listen: false });
});
afterEach(() => t.stop());

const phone = (n: number) => `+86 137 3333 ${String(n).padStart(4, '0')}`;
const secretOf = (epoch: number) => (epoch === 1 ? TEST_EPOCH_SECRET : new Uint8Array(32).fill(epoch));

/** The node's listing service as it would run with these epochs in its config. */
function withEpochs(epochs: readonly number[]): { listings: ListingService; tokenizer: Tokenizer } {
  const { config } = t.node;
  const tokenizer = new Tokenizer(createHmacTokenDeriver(epochs.map((epoch) => ({ epoch, secret: secretOf(epoch) }))), config.defaultRegion);
  const listings = new ListingService({
    db: t.node.database.db,
    member: config.member,
    categories: config.categories,
    policy: config.policy,
    permanentRetentionDays: config.listings.permanentRetentionDays,
    tokenizer,
    now: () => new Date(),
  });
  return { listings, tokenizer };
}

async function relist(epochs: readonly number[], rows: [reference: string, n: number][]): Promise<RelistResult> {
  const file = join(t.dataDir, 'bans.csv');
  writeFileSync(file, ['reference,category,ban_until,phone', ...rows.map(([ref, n]) => `${ref},fraud,,${phone(n)}`)].join('\n') + '\n');
  const rejects = await RejectsFile.create(`${file}.rejects.csv`);
  const { listings, tokenizer } = withEpochs(epochs);
  const { config } = t.node;
  try {
    return await runRelist({
      db: t.node.database.db,
      member: config.member,
      source: await openRowSource({ file, columns: LISTING_COLUMNS }),
      listings,
      tokenizer,
      rules: { categories: config.categories, maxIdentifiers: config.http.maxIdentifiersPerRequest },
      rejects,
      now: () => new Date(),
    });
  } finally {
    await rejects.close();
  }
}

const rejectsOf = () => readFileSync(join(t.dataDir, 'bans.csv.rejects.csv'), 'utf8');

async function activeEpochs(reference: string): Promise<number[][]> {
  const rows = await t.node.database.db.selectFrom('listings').select('id').where('reference', '=', reference).where('status', '=', 'active').execute();
  return Promise.all(rows.map(async (r) => [...new Set((await t.node.listings.get(r.id)).tokens.map((tok) => tok.epoch))]));
}

describe('relisting during and after overlaps', () => {
  it('moves an epoch-1 ban onto every epoch held, and retracts the old listing after the new one is written', async () => {
    await withEpochs([1]).listings.create({ identifiers: [{ type: 'phone', value: phone(1) }], category: 'fraud', severity: 'severe', banUntil: null, reference: 'u1' });
    const result = await relist([1, 2], [['u1', 1]]);
    expect(result).toMatchObject({ rows: 1, relisted: 1, current: 0, rejected: 0 });
    expect(await activeEpochs('u1')).toEqual([[1, 2]]);
    expect(await t.node.listings.get('alpha:1')).toMatchObject({ status: 'retracted', retractionReason: 'relisted' });
    // The new listing precedes the retraction in the log: a peer replaying it never lacks a match.
    const kinds = await t.node.database.db.selectFrom('log_entries').select(['seq', 'kind']).where('origin', '=', 'alpha').orderBy('seq').execute();
    expect(kinds.map((k) => k.kind)).toEqual(['listing', 'listing', 'retraction']);
    // Relisting again finds it current.
    expect(await relist([1, 2], [['u1', 1]])).toMatchObject({ relisted: 0, current: 1 });
  });

  it('at the next rotation, recognises a listing of the last overlap by the epoch still held', async () => {
    await withEpochs([1, 2]).listings.create({ identifiers: [{ type: 'phone', value: phone(2) }], category: 'fraud', severity: 'severe', banUntil: null, reference: 'u2' });
    await withEpochs([1, 2]).listings.create({ identifiers: [{ type: 'phone', value: phone(3) }], category: 'fraud', severity: 'severe', banUntil: null, reference: 'u3' });
    // Epoch 1 is gone, 3 is new: u2's row is verified under epoch 2; u3's row names another account.
    const result = await relist(
      [2, 3],
      [
        ['u2', 2],
        ['u3', 4],
      ],
    );
    expect(result).toMatchObject({ rows: 2, relisted: 1, rejected: 1 });
    expect(await activeEpochs('u2')).toEqual([[2, 3]]);
    expect(rejectsOf()).toContain('the row is not the account that was listed');
    expect(rejectsOf()).not.toContain('3333');
  });

  it('refuses a listing none of whose epochs the node still holds', async () => {
    await withEpochs([1]).listings.create({ identifiers: [{ type: 'phone', value: phone(5) }], category: 'fraud', severity: 'severe', banUntil: null, reference: 'u5' });
    expect(await relist([2, 3], [['u5', 5]])).toMatchObject({ relisted: 0, rejected: 1 });
    expect(rejectsOf()).toContain('listing alpha:1 was made under epochs this node no longer holds');
    expect(await activeEpochs('u5')).toEqual([[1]]);
  });
});
