/**
 * The cost of the watch hook on the listing write path (docs/BENCHMARKS.md, "Watch hook"): three
 * nodes in one process append the same batches of listings with `ListingService.createMany`:
 * - baseline: a node that watches nothing (the hook is one indexed probe per batch);
 * - watched: a node watching W accounts, none of which a listing matches;
 * - matching: the same watchlist, with one listing in ten matching a watched account (an event
 *   recorded, with the account's snapshot, in the same transaction).
 * Batches are interleaved node by node, round by round, in a rotating order, so a drift in the
 * machine's load reaches all three alike; figures are medians over rounds, reported as ratios to
 * the baseline. Whole batches are dominated by the commit's fsync and by the neighbours' load, so
 * the hook is also timed alone: after each batch, `recordWatchEvents` runs again over the batch's
 * listings in a transaction that is rolled back, and its time is reported against the batch's.
 *
 * Run: npx tsc -p tsconfig.json && node dist/test/bench/watch-hook.js [--watched 100000] [--rounds 20] [--batch 500]
 */
import { recordWatchEvents } from '../../src/store/watch-repository.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const WATCHED = arg('watched', 100_000);
const ROUNDS = arg('rounds', 20);
const BATCH = arg('batch', 500);

// Mainland mobile numbers: listings use 139…, the watchlist 137…, so only chosen ones overlap.
const listedPhone = (i: number) => `+86139${String(i).padStart(8, '0')}`;
const watchedPhone = (i: number) => `+86137${String(i).padStart(8, '0')}`;

function batchInputs(round: number, matching: boolean) {
  return Array.from({ length: BATCH }, (_, j) => {
    const n = round * BATCH + j;
    const value = matching && j % 10 === 0 ? watchedPhone(n % WATCHED) : listedPhone(n);
    return { identifiers: [{ type: 'phone' as const, value }], category: 'fraud', severity: 'severe', banUntil: null };
  });
}

async function watchAll(t: TestNode): Promise<void> {
  for (let i = 0; i < WATCHED; i += 1000) {
    const items = Array.from({ length: Math.min(1000, WATCHED - i) }, (_, j) => ({ reference: `acct-${i + j}`, identifiers: [{ type: 'phone' as const, value: watchedPhone(i + j) }] }));
    await t.node.watch.put(items);
  }
}

class RolledBack extends Error {}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const extra = { logging: { level: 'silent' as const }, checkpoints: { intervalMs: 60_000, maxEntries: 1_000_000 } };
  const nodes = { baseline: await createTestNode({ listen: false, extra }), watched: await createTestNode({ listen: false, extra }), matching: await createTestNode({ listen: false, extra }) };
  try {
    process.stderr.write(`watching ${WATCHED} accounts on two nodes…\n`);
    await watchAll(nodes.watched);
    await watchAll(nodes.matching);
    // Start every node from a checkpointed WAL, so the watchlist's own writes are not copied back
    // into the database file during the measured rounds.
    for (const t of Object.values(nodes)) t.node.database.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    const times: Record<keyof typeof nodes, number[]> = { baseline: [], watched: [], matching: [] };
    const hookTimes: Record<keyof typeof nodes, number[]> = { baseline: [], watched: [], matching: [] };
    // One warm-up round, discarded.
    for (let round = 0; round <= ROUNDS; round++) {
      // The order rotates each round, so no node always runs right after another's commit.
      const order = (['baseline', 'watched', 'matching'] as const).map((_, i, all) => all[(i + round) % all.length]!);
      for (const name of order) {
        const inputs = batchInputs(round, name === 'matching');
        const started = performance.now();
        const created = await nodes[name].node.listings.createMany(inputs);
        if (round > 0) times[name].push(performance.now() - started);
        const ids = created.map((c) => c.id);
        const hookStarted = performance.now();
        await nodes[name].node.database.db
          .transaction()
          .execute(async (trx) => {
            await recordWatchEvents(trx, 'match', ids, new Date());
            throw new RolledBack();
          })
          .catch((err: unknown) => {
            if (!(err instanceof RolledBack)) throw err;
          });
        if (round > 0) hookTimes[name].push(performance.now() - hookStarted);
      }
    }
    const events = await nodes.matching.node.watch.status();
    const base = median(times.baseline);
    console.log(`watch hook: ${ROUNDS} rounds of createMany(${BATCH}), ${WATCHED} watched accounts; ${events.events} events recorded on the matching node`);
    console.log('| node | median ms per batch | ratio to baseline | hook alone, median ms | hook / batch |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const name of ['baseline', 'watched', 'matching'] as const) {
      const m = median(times[name]);
      const h = median(hookTimes[name]);
      console.log(`| ${name} | ${m.toFixed(1)} | ${(m / base).toFixed(2)}× | ${h.toFixed(2)} | ${((100 * h) / m).toFixed(1)} % |`);
    }
  } finally {
    for (const t of Object.values(nodes)) await t.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
