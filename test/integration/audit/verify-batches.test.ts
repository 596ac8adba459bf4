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
import { verifyStore } from '../../../src/audit/verify.js';
import { decodeEntry, leafHash, type LogEntry } from '../../../src/log/index.js';
import { witnessName } from '../../../src/roster/witness.js';
import type { LogBatchReader, LogSnapshots } from '../../../src/store/log-batch-reader.js';
import { testEngine } from '../../helpers/engine.js';
import { createStore, failuresOf, FEDERATION, listing, listings, retraction, type TestStore } from './verify-fixtures.js';

/**
 * Damage only SQLite can store: a value of another type than its column's (SQLite's columns take
 * any type). PostgreSQL's typed columns refuse it, which the PostgreSQL run checks instead.
 */
const sqliteOnly = testEngine() === 'sqlite';

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

/** The batch read whole through the store's own log batch reader, in a read snapshot. */
function read(first = 1, last = 6): ReturnType<EntryBatchReader['read']> {
  return store.handle.logSnapshots.read(({ reader }) => new EntryBatchReader(reader).read('alpha', first, last));
}

function storedRows(): Promise<{ seq: number; bytes: Uint8Array; leaf_hash: Uint8Array }[]> {
  return store.query('SELECT seq, bytes, leaf_hash FROM log_entries WHERE origin = ? ORDER BY seq', 'alpha');
}

/** Seq 3's bytes with a space appended: still canonical-looking bytes, no longer the leaf hash's. */
async function bytesPlusSpace(): Promise<Uint8Array> {
  return Buffer.concat([(await storedRows())[2]!.bytes, Buffer.from(' ')]);
}

/** The store's snapshots with a reader that refuses every row-by-row read: only the aggregates answer. */
function aggregatesOnly(snapshots: LogSnapshots): LogSnapshots {
  const refuse = () => {
    throw new Error('a row-by-row read: an aggregate did not match');
  };
  return {
    read: (read) =>
      snapshots.read((snapshot) => {
        const r = snapshot.reader;
        const reader: LogBatchReader = {
          entryRows: refuse,
          treeNodes: refuse,
          listingRows: refuse,
          listingTokens: refuse,
          entryBatch: (...a) => r.entryBatch(...a),
          treeNodeRun: (...a) => r.treeNodeRun(...a),
          treeNodeCount: (...a) => r.treeNodeCount(...a),
          listingRowsText: (...a) => r.listingRowsText(...a),
          listingTokensText: (...a) => r.listingTokensText(...a),
          logSize: (...a) => r.logSize(...a),
          checkpointSizes: (...a) => r.checkpointSizes(...a),
        };
        return read({ ...snapshot, reader });
      }),
  };
}

describe('an intact store', () => {
  it('is verified from the aggregate reads alone, on this engine', async () => {
    const results = await verifyStore(
      { logSnapshots: aggregatesOnly(store.handle.logSnapshots) },
      { federation: FEDERATION, roster: store.roster, witness: { name: witnessName(FEDERATION), publicKey: store.witnessKey.publicKey }, workers: 0, batchSize: 4 },
    );
    expect(results).toEqual([expect.objectContaining({ origin: 'alpha', ok: true, entries: 6, checkpoints: 2, failures: [] })]);
  });
});

describe('a batch of entry rows', () => {
  it('that is intact is read whole: each entry decoded as decodeEntry does, with its leaf hash', async () => {
    const batch = await read();
    expect(batch).toBeDefined();
    const rows = await storedRows();
    expect(batch!.entries).toEqual(rows.map((r) => (decodeEntry(r.bytes) as { ok: true; entry: LogEntry }).entry));
    expect(batch!.leafHashes.map(fromBinaryHash)).toEqual(rows.map((r) => leafHash(r.bytes)));
    // Part of the log: the seqs asked for, no more.
    expect((await read(2, 4))!.entries.map((e) => e.seq)).toEqual([2, 3, 4]);
  });

  it.each<[string, string, () => unknown[] | Promise<unknown[]>]>([
    ['a missing row', 'DELETE FROM log_entries WHERE origin = ? AND seq = 3', () => []],
    ['bytes that differ from the leaf hash', 'UPDATE log_entries SET bytes = ? WHERE origin = ? AND seq = 3', async () => [await bytesPlusSpace()]],
    ['a leaf hash that differs', 'UPDATE log_entries SET leaf_hash = ? WHERE origin = ? AND seq = 3', () => [new Uint8Array(32)]],
    ['a kind column that differs', "UPDATE log_entries SET kind = 'retraction' WHERE origin = ? AND seq = 3", () => []],
    ['a time column that differs', "UPDATE log_entries SET time = '2025-01-01T00:00:00.000Z' WHERE origin = ? AND seq = 3", () => []],
    ['bytes that do not decode, with their own leaf hash', 'UPDATE log_entries SET bytes = ?, leaf_hash = ? WHERE origin = ? AND seq = 3', () => [Buffer.from('{}'), Buffer.from([0])]],
  ])('is not read whole with %s', async (_name, damage, params) => {
    await store.sql(damage, ...(await params()), 'alpha');
    expect(await read()).toBeUndefined();
  });

  const typeDamage = [
    ['bytes stored as text', 'UPDATE log_entries SET bytes = CAST(bytes AS TEXT) WHERE origin = ? AND seq = 3'],
    ['a leaf hash stored as text', 'UPDATE log_entries SET leaf_hash = CAST(leaf_hash AS TEXT) WHERE origin = ? AND seq = 3'],
    ['a seq that is not an integer', 'UPDATE log_entries SET seq = 3.5 WHERE origin = ? AND seq = 3'],
  ];
  if (sqliteOnly) {
    it.each(typeDamage)('is not read whole with %s', async (_name, damage) => {
      await store.sql(damage!, 'alpha');
      expect(await read()).toBeUndefined();
    });
  } else {
    it.each(typeDamage)('cannot hold %s on PostgreSQL', async (_name, damage) => {
      await expect(store.sql(damage!, 'alpha')).rejects.toThrow();
      expect(await read()).toBeDefined();
    });
  }

  it('is not read whole when one entry runs into the next: the stored lengths tell them apart', async () => {
    // Seq 3 loses its last byte to seq 4: the concatenation and every leaf hash column stay as
    // they were, but the entries no longer hash to them.
    const rows = await storedRows();
    const three = rows[2]!.bytes;
    const four = rows[3]!.bytes;
    await store.sql('UPDATE log_entries SET bytes = ? WHERE origin = ? AND seq = 3', three.subarray(0, three.length - 1), 'alpha');
    await store.sql('UPDATE log_entries SET bytes = ? WHERE origin = ? AND seq = 4', Buffer.concat([three.subarray(three.length - 1), four]), 'alpha');
    expect(await read()).toBeUndefined();
  });
});

describe('a run of tree nodes read as one blob', () => {
  it('does not hide a hash that runs into the next: each must be 32 bytes', async () => {
    // Leaf nodes 1 and 2: 33 and 31 bytes, the same 64 bytes in a row.
    const [one, two] = (await store.query<{ hash: Uint8Array }>("SELECT hash FROM tree_nodes WHERE origin = 'alpha' AND level = 0 AND idx IN (1, 2) ORDER BY idx")).map((r) => r.hash);
    await store.sql("UPDATE tree_nodes SET hash = ? WHERE origin = 'alpha' AND level = 0 AND idx = 1", Buffer.concat([one!, two!.subarray(0, 1)]));
    await store.sql("UPDATE tree_nodes SET hash = ? WHERE origin = 'alpha' AND level = 0 AND idx = 2", two!.subarray(1));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([
      { kind: 'tree_node_mismatch', index: 1 },
      { kind: 'tree_node_mismatch', index: 2 },
    ]);
  });

  const textHash = "UPDATE tree_nodes SET hash = CAST(hash AS TEXT) WHERE origin = 'alpha' AND level = 1 AND idx = 0";
  if (sqliteOnly) {
    it('does not hide a hash stored as text', async () => {
      await store.sql(textHash);
      expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'tree_node_mismatch', index: 1 }]);
    });
  } else {
    it('cannot hold a hash stored as text on PostgreSQL', async () => {
      await expect(store.sql(textHash)).rejects.toThrow();
    });
  }
});

describe('a batch of projection rows read as JSON', () => {
  it('is still intact with token rows in another order than the entry lists them', async () => {
    await store.sql("DELETE FROM listing_tokens WHERE listing_id = 'alpha:2'");
    await store.sql("INSERT INTO listing_tokens (token, type, epoch, listing_id) VALUES (?, 'email', 1, 'alpha:2')", Buffer.from('e'.repeat(32), 'hex'));
    await store.sql("INSERT INTO listing_tokens (token, type, epoch, listing_id) VALUES (?, 'phone', 1, 'alpha:2')", Buffer.from('f'.repeat(32), 'hex'));
    const [result] = await store.verify();
    expect(result).toMatchObject({ origin: 'alpha', ok: true, entries: 6, failures: [] });
  });

  it.each<[string, string, unknown[], number]>([
    // SQLite stores the blob (which JSON cannot hold); PostgreSQL's text column the bytes' text form.
    ['a category stored as bytes', `UPDATE listings SET category = CAST(category AS ${sqliteOnly ? 'BLOB' : 'BYTEA'}) WHERE id = 'alpha:3'`, [], 2],
    ['an evidence digest where the entry has none', "UPDATE listings SET evidence_digest = ? WHERE id = 'alpha:3'", [`sha256:${'0'.repeat(64)}`], 2],
    ['a value that runs into the next', "UPDATE listings SET category = 'fraud\",\"severe', severity = '' WHERE id = 'alpha:3'", [], 2],
    ['an active row with a retraction time', "UPDATE listings SET retracted_at = '2025-01-01T00:00:00.000Z' WHERE id = 'alpha:3'", [], 2],
    ['a retracted row with another status', "UPDATE listings SET status = 'withdrawn' WHERE id = 'alpha:4'", [], 3],
  ])('does not hide %s', async (_name, damage, params, index) => {
    await store.sql(damage, ...params);
    expect(failuresOf(await store.verify(), 'alpha')[0]).toEqual({ kind: 'projection_mismatch', index });
  });
});
