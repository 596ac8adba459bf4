/**
 * How fast `jointban verify` re-verifies a log (target: ≥ 100k entries/s). Not part of the test
 * suite: build, then `node dist/test/bench/verify-bench.js [entries] [entries per checkpoint]`
 * (defaults 200,000 and 1000).
 *
 * Seeds one member's log with synthetic valid entries written straight through LogWriter and
 * ListingWriter in large transactions (a listing per entry, a retraction every 50th, a signed and
 * witness-cosigned checkpoint every 1000 entries by default, as a node's signer batches a busy
 * log; a quiet log has far more checkpoints per entry, each costing two Ed25519 verifications),
 * then times, in
 * the same run and on the same file:
 *   - read:   the same batched queries of the entry rows, doing nothing with them (the baseline);
 *   - decode: reading plus strict `decodeEntry` of every entry;
 *   - verify: `verifyStore` (which must report the log intact).
 * and prints entries/s and each time as a multiple of the baseline, by wall time and by the
 * process's CPU time (the steadier figure when other work shares the machine).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_BATCH_SIZE, verifyStore } from '../../src/audit/verify.js';
import { toBase64 } from '../../src/crypto/encoding.js';
import { generateEd25519KeyPair, randomBytes } from '../../src/crypto/index.js';
import { witnessName } from '../../src/federation/witness.js';
import { cosignCheckpoint, decodeEntry, encodeEntry, logOrigin, signCheckpoint, type ListingEntry, type RetractionEntry } from '../../src/log/index.js';
import { addMember, createDraft, rosterFromDraft, type Roster } from '../../src/roster/index.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { ListingWriter } from '../../src/store/listing-repository.js';
import { LogWriter } from '../../src/store/log-repository.js';

const FEDERATION = 'bench.jointban.example';
const ORIGIN = 'alpha';
const RETRACT_EVERY = 50;
const TYPES = ['phone', 'email', 'national_id', 'device_id'] as const;
const CATEGORIES = ['fraud', 'rumor', 'impersonation', 'illegal_profit'];

const member = generateEd25519KeyPair();
const association = generateEd25519KeyPair();

function unwrap<T>(r: { ok: true } & T | { ok: false; error: string }): T {
  if (!r.ok) throw new Error(r.error);
  return r;
}

function benchRoster(since: string): Roster {
  const endpoint = (id: string) => `https://${id}.bench.example`;
  let { draft } = unwrap(createDraft(FEDERATION, { id: 'assoc', name: 'Association', publicKey: toBase64(association.publicKey), endpoint: endpoint('assoc') }, since));
  ({ draft } = unwrap(addMember(draft, { id: ORIGIN, name: 'Alpha', publicKey: toBase64(member.publicKey), endpoint: endpoint(ORIGIN) }, since)));
  return unwrap(rosterFromDraft(draft, 1, since)).roster;
}

function entryAt(seq: number, start: number): ListingEntry | RetractionEntry {
  const time = new Date(start + seq * 1000).toISOString();
  if (seq % RETRACT_EVERY === 0) return { v: 1, kind: 'retraction', origin: ORIGIN, seq, time, target: seq - 1, reason: 'appeal_upheld' };
  const tokens = Array.from({ length: 1 + (seq % 3) }, (_, i) => ({ type: TYPES[(seq + i) % TYPES.length]!, epoch: 1, token: Buffer.from(randomBytes(16)).toString('hex') }));
  return {
    v: 1,
    kind: 'listing',
    origin: ORIGIN,
    seq,
    time,
    category: CATEGORIES[seq % CATEGORIES.length]!,
    severity: 'severe',
    bannedAt: new Date(start + seq * 1000 - 3_600_000).toISOString(),
    banUntil: seq % 2 === 0 ? null : new Date(start + seq * 1000 + 90 * 86_400_000).toISOString(),
    expiresAt: new Date(start + seq * 1000 + 1095 * 86_400_000).toISOString(),
    ...(seq % 4 === 0 ? { evidenceDigest: `sha256:${Buffer.from(randomBytes(32)).toString('hex')}` } : {}),
    tokens,
  };
}

/** Appends `count` entries, one transaction per `every` entries, each ending in a cosigned checkpoint. */
async function seed(handle: DatabaseHandle, count: number, every: number, start: number): Promise<void> {
  const name = logOrigin(FEDERATION, ORIGIN);
  for (let first = 1; first <= count; first += every) {
    const last = Math.min(count, first + every - 1);
    await handle.db.transaction().execute(async (trx) => {
      const entries = Array.from({ length: last - first + 1 }, (_, i) => entryAt(first + i, start));
      const tree = await new LogWriter(trx).append(ORIGIN, entries.map((e) => ({ seq: e.seq, kind: e.kind, time: e.time, bytes: encodeEntry(e) })));
      const listings = new ListingWriter(trx);
      for (const e of entries) {
        if (e.kind === 'listing') await listings.insertListing(e, null);
        else await listings.applyRetraction(e);
      }
      const note = signCheckpoint({ origin: name, size: last, root: tree.root() }, { name, secretKey: member.secretKey });
      const cosigned = note + cosignCheckpoint(note, { name: witnessName(FEDERATION), secretKey: association.secretKey }, Math.floor(start / 1000) + last);
      await new CheckpointRepository(trx).insert({ origin: ORIGIN, size: last, root: tree.root(), note: cosigned }, new Date().toISOString());
    });
  }
}

/** The baseline: the verifier's entry query, batch by batch, optionally decoding each entry. */
async function readAll(handle: DatabaseHandle, count: number, decode: boolean): Promise<number> {
  let seen = 0;
  for (let first = 1; first <= count; first += DEFAULT_BATCH_SIZE) {
    const rows = await handle.db
      .selectFrom('log_entries')
      .select(['seq', 'kind', 'time', 'bytes', 'leaf_hash'])
      .where('origin', '=', ORIGIN)
      .where('seq', '>=', first)
      .where('seq', '<=', first + DEFAULT_BATCH_SIZE - 1)
      .orderBy('seq')
      .execute();
    for (const row of rows) if (!decode || decodeEntry(row.bytes).ok) seen++;
  }
  return seen;
}

interface Timed<T> {
  value: T;
  seconds: number;
  /** CPU time of this process (user + system): steadier than wall time on a shared machine. */
  cpuSeconds: number;
}

async function timed<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = await fn();
  const cpu = process.cpuUsage(c0);
  return { value, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 200_000);
  const every = Number(process.argv[3] ?? 1000);
  if (![count, every].every((n) => Number.isSafeInteger(n) && n >= 1)) throw new Error('usage: verify-bench.js [entries] [entries per checkpoint]');
  const dir = mkdtempSync(join(tmpdir(), 'jointban-verify-bench-'));
  const handle = await openDatabase({ driver: 'sqlite', file: join(dir, 'bench.db') });
  try {
    const start = Date.parse('2025-01-01T00:00:00.000Z');
    const seeded = await timed(() => seed(handle, count, every, start));
    console.log(`seeded ${count} entries, a checkpoint every ${every}, in ${seeded.seconds.toFixed(1)} s`);
    const roster = benchRoster(new Date(start).toISOString());
    const witness = { name: witnessName(FEDERATION), publicKey: association.publicKey };

    // Warm the page cache and the JIT once, so each measurement below sees the same conditions.
    await readAll(handle, count, true);
    const read = await timed(() => readAll(handle, count, false));
    const decode = await timed(() => readAll(handle, count, true));
    const verify = await timed(() => verifyStore(handle.db, { federation: FEDERATION, roster, witness }));
    const result = verify.value.find((r) => r.origin === ORIGIN);
    if (read.value !== count || decode.value !== count || !result?.ok || result.entries !== count) {
      throw new Error(`the seeded log did not verify: ${JSON.stringify(verify.value, null, 2)}`);
    }
    const rate = (s: number) => Math.round(count / s).toLocaleString('en-US').padStart(10);
    const line = (label: string, t: Timed<unknown>) =>
      console.log(
        `${label.padEnd(8)} wall ${t.seconds.toFixed(2).padStart(6)} s ${rate(t.seconds)} entries/s ${(t.seconds / read.seconds).toFixed(1).padStart(5)}× read` +
          ` | cpu ${t.cpuSeconds.toFixed(2).padStart(6)} s ${rate(t.cpuSeconds)} entries/s ${(t.cpuSeconds / read.cpuSeconds).toFixed(1).padStart(5)}× read`,
      );
    line('read', read);
    line('decode', decode);
    line('verify', verify);
    console.log(`verified ${result.entries} entries, ${result.checkpoints} checkpoints (${result.cosignedCheckpoints} cosigned) on node ${process.version}`);
  } finally {
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
