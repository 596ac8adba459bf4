/**
 * The verifier's aggregate reads (docs/AUDIT.md, "Speed"): a batch of entry rows, a run of tree
 * nodes and a batch of projection rows are each read as one row of concatenations, and accepted
 * whole only when every row is there, well-formed and equal to what the entries say; anything else
 * goes to the row-by-row comparison, which reports it as it always has. These tests pin both
 * halves: an intact batch is taken whole (else the speed-up silently vanishes), and every damage
 * that a concatenation could hide (one value running into the next, a value of another type, rows
 * in another order) is refused by it and still reported.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EntryBatchReader } from '../../../src/audit/verify-entries.js';
import { fromBinaryHash } from '../../../src/audit/verify-tree.js';
import { decodeEntry, leafHash, type LogEntry } from '../../../src/log/index.js';
import { SqliteLogBatchReader } from '../../../src/store/sqlite/log-batch-reader.js';
import { createStore, failuresOf, listing, listings, retraction, type TestStore } from './verify-fixtures.js';

let store: TestStore;

beforeEach(async () => {
  store = await createStore();
  await store.checkpoint('alpha');
  // Two tokens on seq 2, a retraction at 6: every kind of row the batches compare.
  const twoTokens = listing('alpha', 2, {
    tokens: [
      { type: 'phone', epoch: 1, token: 'f'.repeat(32) },
      { type: 'email', epoch: 1, token: 'e'.repeat(32) },
    ],
  });
  await store.append('alpha', [listing('alpha', 1), twoTokens, ...listings('alpha', 3, 3), retraction('alpha', 6, 4)]);
});

afterEach(async () => {
  await store.close();
});

function read(first = 1, last = 6): ReturnType<EntryBatchReader['read']> {
  store.handle.sqlite.exec('BEGIN');
  try {
    return new EntryBatchReader(new SqliteLogBatchReader(store.handle.sqlite)).read('alpha', first, last);
  } finally {
    store.handle.sqlite.exec('ROLLBACK');
  }
}

function storedRows(): { seq: number; bytes: Uint8Array; leaf_hash: Uint8Array }[] {
  return store.handle.sqlite.prepare('SELECT seq, bytes, leaf_hash FROM log_entries WHERE origin = ? ORDER BY seq').all('alpha') as { seq: number; bytes: Uint8Array; leaf_hash: Uint8Array }[];
}

describe('a batch of entry rows', () => {
  it('that is intact is read whole: each entry decoded as decodeEntry does, with its leaf hash', () => {
    const batch = read();
    expect(batch).toBeDefined();
    const rows = storedRows();
    expect(batch!.entries).toEqual(rows.map((r) => (decodeEntry(r.bytes) as { ok: true; entry: LogEntry }).entry));
    expect(batch!.leafHashes.map(fromBinaryHash)).toEqual(rows.map((r) => leafHash(r.bytes)));
    // Part of the log: the seqs asked for, no more.
    expect(read(2, 4)!.entries.map((e) => e.seq)).toEqual([2, 3, 4]);
  });

  it.each([
    ['a missing row', 'DELETE FROM log_entries WHERE origin = ? AND seq = 3'],
    ['bytes that differ from the leaf hash', "UPDATE log_entries SET bytes = bytes || X'20' WHERE origin = ? AND seq = 3"],
    ['a leaf hash that differs', 'UPDATE log_entries SET leaf_hash = zeroblob(32) WHERE origin = ? AND seq = 3'],
    ['a kind column that differs', "UPDATE log_entries SET kind = 'retraction' WHERE origin = ? AND seq = 3"],
    ['a time column that differs', "UPDATE log_entries SET time = '2025-01-01T00:00:00.000Z' WHERE origin = ? AND seq = 3"],
    ['bytes stored as text', 'UPDATE log_entries SET bytes = CAST(bytes AS TEXT) WHERE origin = ? AND seq = 3'],
    ['a leaf hash stored as text', 'UPDATE log_entries SET leaf_hash = hex(leaf_hash) WHERE origin = ? AND seq = 3'],
    ['a seq that is not an integer', 'UPDATE log_entries SET seq = 3.5 WHERE origin = ? AND seq = 3'],
    ['bytes that do not decode, with their own leaf hash', "UPDATE log_entries SET bytes = X'7b7d', leaf_hash = X'00' WHERE origin = ? AND seq = 3"],
  ])('is not read whole with %s', (_name, damage) => {
    store.sql(damage, 'alpha');
    expect(read()).toBeUndefined();
  });

  it('is not read whole when one entry runs into the next: the stored lengths tell them apart', () => {
    // Seq 3 loses its last byte to seq 4: the concatenation and every leaf hash column stay as
    // they were, but the entries no longer hash to them.
    const rows = storedRows();
    const three = rows[2]!.bytes;
    const four = rows[3]!.bytes;
    store.sql('UPDATE log_entries SET bytes = ? WHERE origin = ? AND seq = 3', three.subarray(0, three.length - 1), 'alpha');
    store.sql('UPDATE log_entries SET bytes = ? WHERE origin = ? AND seq = 4', Buffer.concat([three.subarray(three.length - 1), four]), 'alpha');
    expect(read()).toBeUndefined();
  });
});

describe('a run of tree nodes read as one blob', () => {
  it('does not hide a hash that runs into the next: each must be 32 bytes', async () => {
    // Leaf nodes 1 and 2: 33 and 31 bytes, the same 64 bytes in a row.
    const [one, two] = store.handle.sqlite.prepare("SELECT hash FROM tree_nodes WHERE origin = 'alpha' AND level = 0 AND idx IN (1, 2) ORDER BY idx").pluck().all() as Uint8Array[];
    store.sql("UPDATE tree_nodes SET hash = ? WHERE origin = 'alpha' AND level = 0 AND idx = 1", Buffer.concat([one!, two!.subarray(0, 1)]));
    store.sql("UPDATE tree_nodes SET hash = ? WHERE origin = 'alpha' AND level = 0 AND idx = 2", two!.subarray(1));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([
      { kind: 'tree_node_mismatch', index: 1 },
      { kind: 'tree_node_mismatch', index: 2 },
    ]);
  });

  it('does not hide a hash stored as text', async () => {
    store.sql("UPDATE tree_nodes SET hash = CAST(hash AS TEXT) WHERE origin = 'alpha' AND level = 1 AND idx = 0");
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'tree_node_mismatch', index: 1 }]);
  });
});

describe('a batch of projection rows read as JSON', () => {
  it('is still intact with token rows in another order than the entry lists them', async () => {
    store.sql("DELETE FROM listing_tokens WHERE listing_id = 'alpha:2'");
    store.sql("INSERT INTO listing_tokens (token, type, epoch, listing_id) VALUES (?, 'email', 1, 'alpha:2')", Buffer.from('e'.repeat(32), 'hex'));
    store.sql("INSERT INTO listing_tokens (token, type, epoch, listing_id) VALUES (?, 'phone', 1, 'alpha:2')", Buffer.from('f'.repeat(32), 'hex'));
    const [result] = await store.verify();
    expect(result).toMatchObject({ origin: 'alpha', ok: true, entries: 6, failures: [] });
  });

  it.each([
    ['a category stored as a blob (which JSON cannot hold)', "UPDATE listings SET category = CAST(category AS BLOB) WHERE id = 'alpha:3'", 2],
    ['an evidence digest where the entry has none', "UPDATE listings SET evidence_digest = 'sha256:' || lower(hex(zeroblob(32))) WHERE id = 'alpha:3'", 2],
    ['a value that runs into the next', "UPDATE listings SET category = 'fraud\",\"severe', severity = '' WHERE id = 'alpha:3'", 2],
    ['an active row with a retraction time', "UPDATE listings SET retracted_at = '2025-01-01T00:00:00.000Z' WHERE id = 'alpha:3'", 2],
    ['a retracted row with another status', "UPDATE listings SET status = 'withdrawn' WHERE id = 'alpha:4'", 3],
  ])('does not hide %s', async (_name, damage, index) => {
    store.sql(damage);
    expect(failuresOf(await store.verify(), 'alpha')[0]).toEqual({ kind: 'projection_mismatch', index });
  });
});
