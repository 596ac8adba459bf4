/**
 * The parallel walk of `verifyStore` (src/audit/verify-parallel.ts): logs cut into aligned chunks
 * checked on worker threads, composed in log order on the calling thread. `store.verify()` already
 * runs every verifier test both ways and requires the same results and verdicts; these tests cover
 * what is specific to the workers: chunks of a realistic size, state that spans chunks, a tamper
 * inside a worker's chunk, the snapshot guard, and the fallbacks (tiny store, no workers).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChunkVerifier } from '../../../src/audit/verify-chunk.js';
import type { ChunkedOutcome } from '../../../src/audit/verify-parallel.js';
import { IndexSet } from '../../../src/audit/verify-projection.js';
import { verifyStore, type VerifyStoreOptions } from '../../../src/audit/verify.js';
import { encodeEntry, type LogEntry } from '../../../src/log/entry.js';
import { witnessName } from '../../../src/roster/witness.js';
import type { LogSnapshots } from '../../../src/store/log-batch-reader.js';
import { testEngine } from '../../helpers/engine.js';
import { createStore, FEDERATION, listing, retraction, WORKER_SCRIPT, type TestStore } from './verify-fixtures.js';

let store: TestStore;

beforeEach(async () => {
  store = await createStore();
});

afterEach(async () => {
  await store.close();
});

/**
 * alpha: 100 entries, a retraction every 7th (of the listing 5 seqs before it, so many retract
 * across a chunk boundary of 8 leaves), one repeated retraction far from its listing; a checkpoint
 * every 9 entries. beta: 20 listings, one checkpoint.
 */
async function seed(): Promise<void> {
  const entries: LogEntry[] = [];
  for (let seq = 1; seq <= 100; seq++) {
    if (seq === 60) entries.push(retraction('alpha', seq, 2));
    else if (seq % 7 === 0) entries.push(retraction('alpha', seq, seq - 5));
    else entries.push(listing('alpha', seq));
  }
  for (let i = 0; i < entries.length; i += 9) await store.append('alpha', entries.slice(i, i + 9));
  await store.append(
    'beta',
    Array.from({ length: 20 }, (_, i) => listing('beta', i + 1)),
  );
}

async function verifyWith(options: Partial<VerifyStoreOptions>, handle: { logSnapshots: LogSnapshots } = store.handle) {
  const outcomes: [string, ChunkedOutcome][] = [];
  const results = await verifyStore(handle, {
    federation: FEDERATION,
    roster: store.roster,
    witness: { name: witnessName(FEDERATION), publicKey: store.witnessKey.publicKey },
    onChunked: (origin, outcome) => outcomes.push([origin, outcome]),
    ...options,
  });
  return { results, outcomes };
}

const onWorkers = { workers: 2, chunkLevel: 3, workerThreshold: 0, workerScript: WORKER_SCRIPT };

describe('an intact store on worker threads', () => {
  beforeEach(seed);

  it('verifies there, with the result of the one-thread walk', async () => {
    const parallel = await verifyWith(onWorkers);
    const single = await verifyWith({ workers: 0 });
    expect(parallel.outcomes).toEqual([
      ['alpha', 'verified'],
      ['beta', 'verified'],
    ]);
    expect(single.outcomes).toEqual([]);
    expect(parallel.results).toEqual(single.results);
    expect(parallel.results.map((r) => [r.origin, r.ok, r.entries, r.checkpoints])).toEqual([
      ['alpha', true, 100, 12],
      ['beta', true, 20, 1],
    ]);
  });

  it('reports progress per chunk, up to the log size', async () => {
    const seen: number[] = [];
    await verifyStore(store.handle, { federation: FEDERATION, roster: store.roster, workers: 2, chunkLevel: 5, workerThreshold: 0, workerScript: WORKER_SCRIPT }, (p) => {
      if (p.origin === 'alpha') seen.push(p.verified);
    });
    expect(seen).toEqual([32, 64, 96, 100]);
  });
});

describe('a tamper inside a chunk a worker checks', () => {
  beforeEach(seed);

  it('is found with the same failures and messages as in one thread', async () => {
    // A listing in the sixth chunk of 8 leaves, re-encoded with another category.
    const bytes = encodeEntry({ ...listing('alpha', 45), category: 'rumor' });
    await store.sql("UPDATE log_entries SET bytes = ? WHERE origin = 'alpha' AND seq = 45", bytes);
    const parallel = await verifyWith(onWorkers);
    const single = await verifyWith({ workers: 0 });
    expect(parallel.outcomes).toEqual([
      ['alpha', 'failed'],
      ['beta', 'verified'],
    ]);
    expect(parallel.results).toEqual(single.results);
    expect(parallel.results[0]!.failures[0]).toMatchObject({ kind: 'leaf_hash_mismatch', index: 44 });
  });

  it('a repeated retraction that the projection shows as the first is found across chunks', async () => {
    // seq 60 retracts seq 2 again; make the row of seq 2 name it instead of seq 7.
    await store.sql("UPDATE listings SET retraction_seq = 60, retracted_at = ? WHERE id = 'alpha:2'", listing('alpha', 60).time);
    const parallel = await verifyWith(onWorkers);
    expect(parallel.outcomes[0]).toEqual(['alpha', 'failed']);
    expect(parallel.results).toEqual((await verifyWith({ workers: 0 })).results);
    expect(parallel.results[0]!.failures.map((f) => f.kind)).toContain('projection_mismatch');
  });

  it('a retraction whose target in an earlier chunk is not a listing is found', async () => {
    // seq 14 is a retraction; make the retraction at seq 21 (of seq 16) target it instead.
    const bad = { ...retraction('alpha', 21, 14) };
    await store.sql("UPDATE log_entries SET bytes = ? WHERE origin = 'alpha' AND seq = 21", encodeEntry(bad));
    const parallel = await verifyWith(onWorkers);
    expect(parallel.outcomes[0]).toEqual(['alpha', 'failed']);
    expect(parallel.results).toEqual((await verifyWith({ workers: 0 })).results);
    expect(parallel.results[0]!.failures.map((f) => f.message)).toContain('retraction 20 of alpha targets seq 14, which is not a listing');
  });
});

describe('falling back to one thread', () => {
  it('a tiny store starts no workers', async () => {
    await store.append('alpha', [listing('alpha', 1), listing('alpha', 2)]);
    const { results, outcomes } = await verifyWith({ workers: 2, workerScript: WORKER_SCRIPT });
    expect(outcomes).toEqual([]);
    expect(results[0]).toMatchObject({ ok: true, entries: 2 });
  });

  it('nor does a store below the threshold, nor a log of one chunk', async () => {
    await seed();
    expect((await verifyWith({ ...onWorkers, workerThreshold: 121 })).outcomes).toEqual([]);
    expect((await verifyWith({ ...onWorkers, workerThreshold: 120 })).outcomes).toEqual([
      ['alpha', 'verified'],
      ['beta', 'verified'],
    ]);
    expect((await verifyWith({ ...onWorkers, chunkLevel: 5 })).outcomes).toEqual([['alpha', 'verified']]);
  });

  it('workers that cannot start leave the verification to this thread', async () => {
    await seed();
    const { results, outcomes } = await verifyWith({ ...onWorkers, workerScript: new URL('./no-such-worker.js', WORKER_SCRIPT) });
    expect(outcomes).toEqual([]);
    expect(results).toEqual((await verifyWith({ workers: 0 })).results);
  });

  it('a chunk read in a snapshot with another log size is not checked (moved)', async () => {
    await seed();
    const task = { id: 1, origin: 'alpha', begin: 0, end: 8, level: 3, inRoster: true, checkpointSizes: [] };
    const [moved, same] = await store.handle.logSnapshots.read(async ({ reader }) => [
      await new ChunkVerifier(reader, store.roster).verify({ ...task, size: 99 }),
      await new ChunkVerifier(reader, store.roster).verify({ ...task, size: 100 }),
    ]);
    expect(moved).toEqual({ id: 1, status: 'moved' });
    expect(same).toMatchObject({ id: 1, status: 'verified' });
  });
});

// What only PostgreSQL does: SQLite's workers read a WAL snapshot of their own (the guard above).
if (testEngine() === 'postgres') {
  describe('on PostgreSQL', () => {
    it("the workers read the walk's own snapshot, on connections of their own that end with it", async () => {
      await seed();
      // An append committed after the walk's snapshot was exported and before any worker imports it.
      const snapshots = store.handle.logSnapshots;
      const appendingMeanwhile: LogSnapshots = {
        read: (read) =>
          snapshots.read((snapshot) =>
            read({
              ...snapshot,
              workerTarget: async () => {
                const target = await snapshot.workerTarget();
                await store.append('alpha', [listing('alpha', 101)]);
                return target;
              },
            }),
          ),
      };
      const during = await verifyWith(onWorkers, { logSnapshots: appendingMeanwhile });
      // A worker in a later snapshot would see 101 entries and give the log back (`moved`).
      expect(during.outcomes).toEqual([
        ['alpha', 'verified'],
        ['beta', 'verified'],
      ]);
      expect(during.results.map((r) => [r.origin, r.ok, r.entries])).toEqual([
        ['alpha', true, 100],
        ['beta', true, 20],
      ]);
      expect((await verifyWith(onWorkers)).results[0]).toMatchObject({ origin: 'alpha', ok: true, entries: 101 });
      const [sessions] = await store.query<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'jointban verify'");
      expect(sessions!.n).toBe(0);
    });
  });
}

describe('IndexSet over part of a log', () => {
  it('holds only indices from its base, and its bits merge into a whole-log set', () => {
    const part = new IndexSet(13);
    for (const i of [13, 14, 20, 40]) part.add(i);
    expect(() => part.add(12)).toThrow(RangeError);
    expect([12, 13, 14, 15, 20, 40, 41].map((i) => part.has(i))).toEqual([false, true, true, false, true, true, false]);
    const whole = new IndexSet();
    whole.add(3);
    whole.addBits(part.bitsOrigin, part.bits(41));
    expect([3, 12, 13, 14, 15, 20, 40, 41].map((i) => whole.has(i))).toEqual([true, false, true, true, false, true, true, false]);
  });
});
