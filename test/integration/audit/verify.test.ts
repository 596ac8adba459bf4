/**
 * `verifyStore` on stores written as a node writes them, then damaged one way per test: each
 * failure mode must be reported with its kind and position, and, where the damage is local, alone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_REPORTED_FAILURES, type VerifyProgress } from '../../../src/audit/verify.js';
import { encodeEntry } from '../../../src/log/entry.js';
import { rosterFromDraft, rotateKey, suspendMember } from '../../../src/roster/index.js';
import { toBase64 } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair } from '../../../src/crypto/index.js';
import { LogWriter } from '../../../src/store/log-repository.js';
import { createStore, failuresOf, listing, listings, retraction, timeOf, type TestStore } from './verify-fixtures.js';

let store: TestStore;

beforeEach(async () => {
  store = await createStore();
});

afterEach(async () => {
  await store.close();
});

/** alpha: 6 listings, then a retraction of seq 2; beta: 3 listings. Checkpoints at 0, 3, 7 and 0, 3. */
async function seedTwoLogs(): Promise<void> {
  await store.checkpoint('alpha');
  await store.append('alpha', listings('alpha', 1, 3));
  await store.append('alpha', [...listings('alpha', 4, 3), retraction('alpha', 7, 2)]);
  await store.checkpoint('beta');
  await store.append('beta', listings('beta', 1, 3));
}

describe('an intact store', () => {
  it('verifies with exact counts, in origin order', async () => {
    await seedTwoLogs();
    const results = await store.verify();
    expect(results.map((r) => [r.origin, r.ok, r.entries, r.checkpoints, r.cosignedCheckpoints, r.failureCount, r.warnings])).toEqual([
      ['alpha', true, 7, 3, 3, 0, []],
      ['beta', true, 3, 2, 2, 0, []],
    ]);
  });

  it('gives the same result whatever the batch size', async () => {
    await store.append('alpha', listings('alpha', 1, 23).slice(0, 10), { checkpoint: true });
    for (let seq = 11; seq <= 23; seq++) await store.append('alpha', [listing('alpha', seq)]);
    for (const batchSize of [1, 4, 7, 5000]) {
      const [alpha] = await store.verify({ batchSize });
      expect(alpha).toMatchObject({ ok: true, entries: 23, checkpoints: 14 });
    }
  });

  it('reports progress per batch, up to the log size', async () => {
    await store.append('alpha', listings('alpha', 1, 10));
    const seen: VerifyProgress[] = [];
    await store.verify({ batchSize: 4 }, (p) => seen.push(p));
    expect(seen).toEqual([4, 8, 10].map((verified) => ({ origin: 'alpha', verified, total: 10 })));
  });
});

describe('entries', () => {
  it('an entry of another origin is foreign', async () => {
    await store.append('alpha', [listing('alpha', 1), listing('beta', 2)]);
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'foreign_origin', index: 1 }]);
  });

  it('an entry whose seq is not its position is a bad entry', async () => {
    await store.append('alpha', [listing('alpha', 1)]);
    // Stored at seq 2 (the row's key), but the signed bytes say seq 5.
    await store.handle.db.transaction().execute(async (trx) => {
      await new LogWriter(trx).append('alpha', [{ seq: 2, kind: 'listing', time: timeOf(5), bytes: encodeEntry(listing('alpha', 5)) }]);
    });
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'bad_entry', index: 1 }]);
  });

  it('a retraction of a retraction is a bad entry', async () => {
    await store.append('alpha', [listing('alpha', 1), retraction('alpha', 2, 1), retraction('alpha', 3, 2)]);
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'bad_entry', index: 2 }]);
  });

  it('a stored kind or time that differs from the bytes is a row mismatch', async () => {
    await store.append('alpha', listings('alpha', 1, 2));
    await store.sql("UPDATE log_entries SET time = ? WHERE origin = 'alpha' AND seq = 2", timeOf(9));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'entry_row_mismatch', index: 1 }]);
  });

  it('a missing entry stops the walk there, without noise about what follows', async () => {
    await store.append('alpha', listings('alpha', 1, 6));
    await store.sql("DELETE FROM log_entries WHERE origin = 'alpha' AND seq = 3");
    const [alpha] = await store.verify({ batchSize: 4 });
    expect(alpha).toMatchObject({ ok: false, entries: 2 });
    expect(failuresOf([alpha!], 'alpha')).toEqual([{ kind: 'missing_entry', index: 2 }]);
  });
});

describe('roster membership', () => {
  it('a log whose origin is not in the roster is an unknown member, reported once', async () => {
    await store.append('alpha', listings('alpha', 1, 3));
    const draft = { ...store.draft, members: store.draft.members.filter((m) => m.id !== 'alpha') };
    const roster = rosterFromDraft(draft, 2, timeOf(0));
    if (!roster.ok) throw new Error(roster.error);
    const results = await store.verify({ roster: roster.roster });
    expect(failuresOf(results, 'alpha')).toEqual([{ kind: 'unknown_member' }]);
    expect(results[0]!.entries).toBe(3);
  });

  it('entries dated at or after a suspension are refused, earlier ones stay valid', async () => {
    await store.append('alpha', listings('alpha', 1, 4));
    const suspended = suspendMember(store.draft, 'alpha', timeOf(3));
    if (!suspended.ok) throw new Error(suspended.error);
    const roster = rosterFromDraft(suspended.draft, 2, timeOf(10));
    if (!roster.ok) throw new Error(roster.error);
    expect(failuresOf(await store.verify({ roster: roster.roster }), 'alpha')).toEqual([
      { kind: 'suspended_member', index: 2 },
      { kind: 'suspended_member', index: 3 },
    ]);
  });

  it('without a roster, the own log verifies with the own key and any other is unknown', async () => {
    await seedTwoLogs();
    const results = await store.verify({ roster: undefined, witness: undefined, self: { member: 'alpha', publicKey: store.keys['alpha']!.publicKey } });
    expect(results.find((r) => r.origin === 'alpha')).toMatchObject({ ok: true, entries: 7, checkpoints: 3, cosignedCheckpoints: 0 });
    expect(failuresOf(results, 'beta')).toEqual([{ kind: 'unknown_member' }]);
  });
});

describe('Merkle nodes', () => {
  it('a changed node in a later batch is found at the leaf that completed it', async () => {
    await store.append('alpha', listings('alpha', 1, 20));
    await store.sql("UPDATE tree_nodes SET hash = ? WHERE origin = 'alpha' AND level = 2 AND idx = 3", new Uint8Array(32));
    expect(failuresOf(await store.verify({ batchSize: 6 }), 'alpha')).toEqual([{ kind: 'tree_node_mismatch', index: 15 }]);
  });

  it('a node outside the tree is extra', async () => {
    await store.append('alpha', listings('alpha', 1, 3));
    await store.sql("INSERT INTO tree_nodes (origin, level, idx, hash) VALUES ('alpha', 0, 7, ?)", new Uint8Array(32));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'tree_node_extra' }]);
  });
});

describe('checkpoints', () => {
  it('a correctly signed checkpoint of another tree is a root mismatch', async () => {
    await store.append('alpha', listings('alpha', 1, 3), { checkpoint: false });
    const forged = new Uint8Array(32).fill(9);
    await store.sql("INSERT INTO checkpoints (origin, size, root, note, recorded_at) VALUES ('alpha', 2, ?, ?, ?)", forged, store.sign('alpha', 2, forged), timeOf(0));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'root_mismatch', size: 2 }]);
  });

  it('stored columns that differ from the signed note are a checkpoint mismatch', async () => {
    await store.append('alpha', listings('alpha', 1, 3));
    await store.sql("UPDATE checkpoints SET root = ? WHERE origin = 'alpha' AND size = 3", new Uint8Array(32));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'checkpoint_mismatch', size: 3 }]);
  });

  it("a note signed by another member's key is a bad signature", async () => {
    await store.append('alpha', listings('alpha', 1, 2), { checkpoint: false });
    const note = store.sign('beta', 2, new Uint8Array(32)).replace('/beta', '/alpha');
    await store.sql("INSERT INTO checkpoints (origin, size, root, note, recorded_at) VALUES ('alpha', 2, ?, ?, ?)", new Uint8Array(32), note, timeOf(0));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'bad_signature', size: 2 }]);
  });

  it('a checkpoint beyond the entries held is reported', async () => {
    await store.append('alpha', listings('alpha', 1, 2));
    const root = new Uint8Array(32);
    await store.sql("INSERT INTO checkpoints (origin, size, root, note, recorded_at) VALUES ('alpha', 5, ?, ?, ?)", root, store.sign('alpha', 5, root), timeOf(0));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'checkpoint_beyond_log', size: 5 }]);
  });
});

describe('witness cosignatures', () => {
  it('a checkpoint without one is a warning, or a failure when they are required', async () => {
    await store.append('alpha', listings('alpha', 1, 2));
    await store.append('alpha', [listing('alpha', 3)], { cosign: false });
    const [relaxed] = await store.verify();
    expect(relaxed).toMatchObject({ ok: true, checkpoints: 2, cosignedCheckpoints: 1, warnings: ['1 of 2 checkpoints carry no witness cosignature (the first at size 3)'] });
    expect(failuresOf(await store.verify({ requireCosignatures: true }), 'alpha')).toEqual([{ kind: 'missing_cosignature', size: 3 }]);
  });

  it('a cosignature that does not verify is a failure', async () => {
    await store.append('alpha', listings('alpha', 1, 2));
    const witness = { name: 'test.jointban.example/witness', publicKey: store.keys['beta']!.publicKey };
    // Same name, another key: the line's key ID no longer matches, so it is ignored...
    expect((await store.verify({ witness }))[0]).toMatchObject({ ok: true, cosignedCheckpoints: 0 });
    // ...whereas a damaged signature under the right key ID rejects the checkpoint.
    const [row] = await store.query<{ note: string }>("SELECT note FROM checkpoints WHERE origin = 'alpha' AND size = 2");
    const lines = row!.note.trimEnd().split('\n');
    const last = lines.pop()!;
    const at = last.lastIndexOf(' ') + 30;
    lines.push(last.slice(0, at) + (last[at] === 'A' ? 'B' : 'A') + last.slice(at + 1));
    await store.sql("UPDATE checkpoints SET note = ? WHERE origin = 'alpha' AND size = 2", `${lines.join('\n')}\n`);
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'bad_cosignature', size: 2 }]);
  });
});

describe('the listings projection', () => {
  beforeEach(seedTwoLogs);

  it('a missing row is reported', async () => {
    await store.sql("DELETE FROM listings WHERE id = 'alpha:4'");
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'projection_mismatch', index: 3 }]);
  });

  it('a row without an entry is reported, inside the log or beyond it', async () => {
    await store.sql("UPDATE listings SET id = 'alpha:70', seq = 70 WHERE id = 'alpha:5'");
    const failures = failuresOf(await store.verify(), 'alpha');
    expect(failures).toEqual([{ kind: 'projection_mismatch', index: 4 }, { kind: 'projection_mismatch' }]);
  });

  it('a changed token in the index is reported', async () => {
    await store.sql("UPDATE listing_tokens SET token = ? WHERE listing_id = 'beta:2'", new Uint8Array(16));
    const results = await store.verify();
    expect(failuresOf(results, 'beta')).toEqual([{ kind: 'projection_mismatch', index: 1 }]);
    expect(results[1]!.failures[0]!.message).toContain('tokens');
  });

  it('a retraction the projection does not show is reported', async () => {
    await store.sql("UPDATE listings SET status = 'active', retracted_at = NULL, retraction_reason = NULL, retraction_seq = NULL WHERE id = 'alpha:2'");
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'projection_mismatch', index: 1 }]);
  });

  it('a row marked retracted without a retraction entry is reported', async () => {
    await store.sql("UPDATE listings SET status = 'retracted', retracted_at = ?, retraction_reason = 'other', retraction_seq = 6 WHERE id = 'alpha:3'", timeOf(6));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'projection_mismatch', index: 2 }]);
  });

  it('two rows naming the same retraction: the one it does not retract is reported, before or after the other', async () => {
    // Seq 7 retracts alpha:2. alpha:1 comes before it in row order, alpha:3 after.
    await store.sql("UPDATE listings SET status = 'retracted', retracted_at = ?, retraction_reason = 'other', retraction_seq = 7 WHERE id = 'alpha:1'", timeOf(7));
    const earlier = await store.verify();
    expect(failuresOf(earlier, 'alpha')).toEqual([{ kind: 'projection_mismatch', index: 0 }]);
    expect(earlier[0]!.failures[0]!.message).toContain('listing alpha:1 is marked retracted by seq 7, which retracts alpha:2');
    await store.sql("UPDATE listings SET status = 'active', retracted_at = NULL, retraction_reason = NULL, retraction_seq = NULL WHERE id = 'alpha:1'");
    await store.sql("UPDATE listings SET status = 'retracted', retracted_at = ?, retraction_reason = 'other', retraction_seq = 7 WHERE id = 'alpha:3'", timeOf(7));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'projection_mismatch', index: 2 }]);
  });

  it("a retraction's time or reason that differs is reported", async () => {
    await store.sql("UPDATE listings SET retracted_at = ? WHERE id = 'alpha:2'", timeOf(8));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'projection_mismatch', index: 1 }]);
    await store.sql("UPDATE listings SET retracted_at = ?, retraction_reason = 'other' WHERE id = 'alpha:2'", timeOf(7));
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'projection_mismatch', index: 1 }]);
  });

  it('a repeated retraction changes nothing and is not a failure', async () => {
    await store.append('alpha', [retraction('alpha', 8, 2)]);
    expect((await store.verify())[0]).toMatchObject({ ok: true, entries: 8 });
  });
});

describe('the report', () => {
  it('keeps the first failures and counts all of them', async () => {
    await store.append('alpha', listings('alpha', 1, MAX_REPORTED_FAILURES + 20));
    await store.sql("UPDATE log_entries SET leaf_hash = ? WHERE origin = 'alpha'", new Uint8Array(32));
    const [alpha] = await store.verify();
    expect(alpha!.failureCount).toBe(MAX_REPORTED_FAILURES + 20);
    expect(alpha!.failures).toHaveLength(MAX_REPORTED_FAILURES);
    expect(alpha!.failures[0]).toMatchObject({ kind: 'leaf_hash_mismatch', index: 0 });
  });
});

describe('a member that rotated its key (PROTOCOL.md, "Key history")', () => {
  const next = generateEd25519KeyPair();
  function rotatedRoster(retireAt: string) {
    const rotated = rotateKey(store.draft, 'alpha', toBase64(next.publicKey), timeOf(3), retireAt);
    if (!rotated.ok) throw new Error(rotated.error);
    const built = rosterFromDraft(rotated.draft, 2, timeOf(10));
    if (!built.ok) throw new Error(built.error);
    return built.roster;
  }

  it('verifies checkpoints by the old key before the rotation and by the new key after', async () => {
    await store.append('alpha', listings('alpha', 1, 2));
    const old = store.keys['alpha']!;
    store.keys['alpha'] = next;
    await store.append('alpha', listings('alpha', 3, 2));
    store.keys['alpha'] = old;
    const results = await store.verify({ roster: rotatedRoster(timeOf(3)) });
    expect(failuresOf(results, 'alpha')).toEqual([]);
    // With the roster from before the rotation, the new key's checkpoint is not the member's.
    expect(failuresOf(await store.verify(), 'alpha')).toEqual([{ kind: 'bad_signature', size: 4 }]);
  });

  it('fails a checkpoint by the old key whose last entry is dated at or after its validUntil', async () => {
    await store.append('alpha', listings('alpha', 1, 2));
    await store.append('alpha', listings('alpha', 3, 1));
    const results = await store.verify({ roster: rotatedRoster(timeOf(3)) });
    expect(failuresOf(results, 'alpha')).toEqual([{ kind: 'bad_signature', size: 3 }]);
    // During an overlap that still covers entry 3 it verifies.
    expect(failuresOf(await store.verify({ roster: rotatedRoster(timeOf(4)) }), 'alpha')).toEqual([]);
  });
});
