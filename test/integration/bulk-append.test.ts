/**
 * Bulk append (src/store/bulk-append.ts): the SQLite adapter (src/store/sqlite/bulk-append.ts,
 * prepared statements) against its reference twin (`kyselyBulkAppend`, dialect-neutral Kysely
 * statements). The same appends, listings and retractions through each, on two fresh stores, must
 * leave exactly the same rows, in the same order, and answer the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeEntry, type ListingEntry, type LogEntry } from '../../src/log/entry.js';
import { kyselyBulkAppend, type BulkAppend } from '../../src/store/bulk-append.js';
import { bulkAppendOf, openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { ListingWriter } from '../../src/store/listing-repository.js';
import { LogWriter } from '../../src/store/log-repository.js';
import { sqliteBulkAppend } from '../../src/store/sqlite/bulk-append.js';
import { listing, retraction } from '../helpers/log-entries.js';

let dir: string;
let reference: DatabaseHandle;
let fast: DatabaseHandle;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jointban-bulk-append-'));
  reference = await openDatabase({ driver: 'sqlite', file: join(dir, 'reference.db') });
  fast = await openDatabase({ driver: 'sqlite', file: join(dir, 'fast.db') });
});

afterEach(async () => {
  await reference.close();
  await fast.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every row the writers write, in storage order (tokens by rowid: the order checks and verify read them in). */
function rows(handle: DatabaseHandle): Record<string, unknown[]> {
  const all = (sql: string) => handle.sqlite.prepare(sql).raw().all();
  return {
    entries: all('SELECT origin, seq, kind, time, hex(bytes), hex(leaf_hash) FROM log_entries ORDER BY origin, seq'),
    nodes: all('SELECT origin, level, idx, hex(hash) FROM tree_nodes ORDER BY origin, level, idx'),
    listings: all('SELECT * FROM listings ORDER BY id'),
    tokens: all('SELECT rowid, hex(token), type, epoch, listing_id FROM listing_tokens ORDER BY rowid'),
    types: all('SELECT typeof(bytes), typeof(leaf_hash), typeof(seq), typeof(time) FROM log_entries GROUP BY 1, 2, 3, 4'),
  };
}

/** Appends `entries` to their log and the projection through `bulk`, as a node's writers do; the retractions' answers. */
async function write(handle: DatabaseHandle, bulk: (trx: Parameters<typeof kyselyBulkAppend>[0]) => BulkAppend, origin: string, entries: LogEntry[]): Promise<boolean[]> {
  return handle.db.transaction().execute(async (trx) => {
    const log = new LogWriter(trx, bulk(trx));
    const listings = new ListingWriter(trx, new Date('2025-06-01T00:00:00.000Z'), bulk(trx));
    await log.append(
      origin,
      entries.map((e) => ({ seq: e.seq, kind: e.kind, time: e.time, bytes: encodeEntry(e) })),
    );
    await listings.insertListings(entries.filter((e): e is ListingEntry => e.kind === 'listing').map((entry) => ({ entry, reference: entry.seq % 2 === 0 ? `acct-${entry.seq}` : null })));
    const answers: boolean[] = [];
    for (const e of entries) if (e.kind === 'retraction') answers.push(await listings.applyRetraction(e));
    return answers;
  });
}

describe('the SQLite bulk-append adapter and its Kysely reference', () => {
  it('write the same rows and answer the same, batch after batch', async () => {
    const twoTokens = listing('alpha', 2, {
      tokens: [
        { type: 'phone', epoch: 1, token: 'f'.repeat(32) },
        { type: 'email', epoch: 2, token: 'e'.repeat(32) },
      ],
      evidenceDigest: `sha256:${'a'.repeat(64)}`,
      banUntil: '2026-01-01T00:00:00.000Z',
    });
    const batches: [string, LogEntry[]][] = [
      ['alpha', [listing('alpha', 1), twoTokens, listing('alpha', 3)]],
      ['beta', [listing('beta', 1)]],
      // A retraction, a repeated one (answers false, changes nothing) and one whose target has no listings row (a retraction).
      ['alpha', [retraction('alpha', 4, 2), listing('alpha', 5), retraction('alpha', 6, 2), retraction('alpha', 7, 4)]],
      ['alpha', Array.from({ length: 300 }, (_, i) => listing('alpha', 8 + i))],
    ];
    for (const [origin, entries] of batches) {
      const expected = await write(reference, (trx) => kyselyBulkAppend(trx), origin, entries);
      const got = await write(fast, () => sqliteBulkAppend(fast.sqlite), origin, entries);
      expect(got).toEqual(expected);
    }
    expect(await write(reference, (trx) => kyselyBulkAppend(trx), 'alpha', [retraction('alpha', 308, 1)])).toEqual([true]);
    expect(await write(fast, () => sqliteBulkAppend(fast.sqlite), 'alpha', [retraction('alpha', 308, 1)])).toEqual([true]);
    const want = rows(reference);
    expect(want['entries']).toHaveLength(309);
    expect(want['tokens']).toHaveLength(306);
    expect(rows(fast)).toEqual(want);
  });

  it('roll back with the transaction they run in', async () => {
    await expect(
      fast.db.transaction().execute(async (trx) => {
        await new LogWriter(trx, sqliteBulkAppend(fast.sqlite)).append('alpha', [{ seq: 1, kind: 'listing', time: listing('alpha', 1).time, bytes: encodeEntry(listing('alpha', 1)) }]);
        await new ListingWriter(trx, new Date(), sqliteBulkAppend(fast.sqlite)).insertListing(listing('alpha', 1), null);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(rows(fast)).toEqual({ entries: [], nodes: [], listings: [], tokens: [], types: [] });
  });

  it('the fast adapter is the one a store opened on SQLite hands its writers', () => {
    expect(bulkAppendOf(fast.db)).toBe(sqliteBulkAppend(fast.sqlite));
  });
});
