/**
 * How fast `jointban verify` re-verifies a store (target: ≥ 100k entries/s). Not part of the test
 * suite: build, then
 *
 *   node dist/test/bench/verify-bench.js [entries] [entries per checkpoint] [--origins N] [--quick]
 *     [--profile FILE] [--keep DIR]
 *
 * (defaults: 1,000,000 entries over 4 origins, a checkpoint every ~1000 entries; `--quick`:
 * 50,000 entries, under 30 s even on the shared machine). `runVerifyBench(options)` does the same
 * for the combined `npm run bench` and returns the figures; `formatVerifyBench` prints them.
 *
 * The store is generated directly, not through a node: for each origin, synthetic valid entries
 * (a listing per entry with 1-3 tokens, a quarter with an evidence digest, a retraction every 50th)
 * with their leaf hashes and every Merkle node, signed checkpoints cosigned by the association's
 * witness at irregular intervals (uniform between half and one and a half times the batch size, as
 * a node's signer batches a busy log), the listings projection and its token index, all written
 * with prepared statements in one transaction per origin. Real keys, real signatures, real nodes:
 * the verifier must report every log intact, or the bench fails.
 *
 * Then, in the same run and on the same file, after one warm-up pass of each:
 *   - baseline: every entry row read with one bare prepared statement, its bytes hashed with the
 *     native SHA-256 (the least any re-verification must do);
 *   - verify: `verifyStore`, as `jointban verify` runs it (on worker threads, one per core, for the
 *     logs large enough: src/audit/verify-parallel.ts);
 *   - verify in one thread: `verifyStore` with `workers: 0`, the walk without workers.
 * Each is reported by wall time and by the process's CPU time, which is the sum over all its
 * threads, workers included (steadier on a shared machine), as a multiple of the baseline: compare
 * ratios, not absolute rates, across machines.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { defaultWorkers } from '../../src/audit/verify-parallel.js';
import { verifyStore } from '../../src/audit/verify.js';
import { concatBytes, toBase64 } from '../../src/crypto/encoding.js';
import { generateEd25519KeyPair, sha256Native, type Ed25519KeyPair } from '../../src/crypto/index.js';
import { witnessName } from '../../src/roster/witness.js';
import { cosignCheckpoint, encodeEntry, listingId, logOrigin, signCheckpoint, type ListingEntry, type LogEntry } from '../../src/log/index.js';
import { addMember, createDraft, rosterFromDraft, type Roster } from '../../src/roster/index.js';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { summariseProfile, type CpuProfile, type ProfileSummary } from './profile-summary.js';
import { prng } from '../helpers/prng.js';
import { adminQuery, databaseUrl, findPostgresBin, startTestCluster } from '../helpers/postgres-cluster.js';
import { copySqliteToPostgres } from './seed-postgres.js';

const FEDERATION = 'bench.jointban.example';
const RETRACT_EVERY = 50;
const TYPES = ['phone', 'email', 'national_id', 'device_id'] as const;
const CATEGORIES = ['fraud', 'rumor', 'impersonation', 'illegal_profit'];
const START = Date.parse('2025-01-01T00:00:00.000Z');

export interface VerifyBenchOptions {
  /** Entries in the whole store (default 1,000,000; 50,000 with `quick`). */
  entries?: number;
  /** Mean entries per checkpoint (default 1000). */
  perCheckpoint?: number;
  /** Number of member logs the entries are spread over (default 4). */
  origins?: number;
  quick?: boolean;
  /**
   * Also verify the same store on PostgreSQL: copied into a throwaway cluster (seed-postgres.ts),
   * verified there in the same run, printed beside SQLite's figure.
   */
  postgres?: boolean;
  /** Write a V8 CPU profile of one extra verify pass in one thread (not timed) to this file and summarise it. */
  profile?: string;
  /** Generate the store in this directory and keep it (default: a temp directory, removed). */
  keep?: string;
  /** Progress lines go here (default: stderr). */
  log?: (line: string) => void;
}

export interface TimedFigure {
  wallSeconds: number;
  cpuSeconds: number;
  entriesPerSecond: number;
  entriesPerCpuSecond: number;
}

export interface VerifyBenchResult {
  entries: number;
  origins: number;
  checkpoints: number;
  cosignedCheckpoints: number;
  seedSeconds: number;
  databaseBytes: number;
  baseline: TimedFigure;
  verify: TimedFigure;
  /** `verifyStore` without worker threads. */
  singleThread: TimedFigure;
  /** How the logs given to worker threads fared in the timed verify pass, by outcome. */
  chunked: Record<string, number>;
  workers: number;
  /** verify / baseline, CPU time: how many times the bare read-and-hash verification costs. */
  cpuRatio: number;
  wallRatio: number;
  node: string;
  profile?: ProfileSummary;
  /** `verifyStore` of the same store on PostgreSQL (`postgres`), and its wall time over SQLite's. */
  postgres?: { verify: TimedFigure; wallVsSqlite: number; copySeconds: number };
}

const iso = (ms: number): string => new Date(ms).toISOString();

function entryAt(origin: string, seq: number, random: () => number): LogEntry {
  const now = START + seq * 1000;
  const time = iso(now);
  if (seq % RETRACT_EVERY === 0) return { v: 1, kind: 'retraction', origin, seq, time, target: seq - 1, reason: 'appeal_upheld' };
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const tokens = Array.from({ length: 1 + (seq % 3) }, (_, i) => ({ type: TYPES[(seq + i) % TYPES.length]!, epoch: 1, token: hex(32) }));
  const entry: ListingEntry = {
    v: 1,
    kind: 'listing',
    origin,
    seq,
    time,
    category: CATEGORIES[seq % CATEGORIES.length]!,
    severity: 'severe',
    bannedAt: iso(now - 3_600_000),
    banUntil: seq % 2 === 0 ? null : iso(now + 90 * 86_400_000),
    expiresAt: iso(now + 1095 * 86_400_000),
    tokens,
  };
  if (seq % 4 === 0) entry.evidenceDigest = `sha256:${hex(64)}`;
  return entry;
}

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

/** Writes one origin's whole log, tree, checkpoints and projection in one transaction. */
function seedOrigin(handle: DatabaseHandle, origin: string, count: number, every: number, key: Ed25519KeyPair, witness: Ed25519KeyPair): number {
  const sqlite = handle.sqlite;
  const insertEntry = sqlite.prepare('INSERT INTO log_entries (origin, seq, kind, time, bytes, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)');
  const insertNode = sqlite.prepare('INSERT INTO tree_nodes (origin, level, idx, hash) VALUES (?, ?, ?, ?)');
  const insertCheckpoint = sqlite.prepare('INSERT INTO checkpoints (origin, size, root, note, recorded_at) VALUES (?, ?, ?, ?, ?)');
  const insertListing = sqlite.prepare(
    `INSERT INTO listings (id, origin, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, retracted_at, retraction_reason, retraction_seq, reference)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
  );
  const insertToken = sqlite.prepare('INSERT INTO listing_tokens (token, type, epoch, listing_id) VALUES (?, ?, ?, ?)');
  const random = prng(origin.length * 7919 + origin.charCodeAt(0));
  const name = logOrigin(FEDERATION, origin);
  // The right edge of the tree (RFC 9162), as CompactRange keeps it, with the native SHA-256.
  const edge: Buffer[] = [];
  let checkpoints = 0;
  let nextCheckpoint = Math.max(1, Math.round(every * (0.5 + random())));
  sqlite.transaction(() => {
    for (let seq = 1; seq <= count; seq++) {
      const entry = entryAt(origin, seq, random);
      const bytes = encodeEntry(entry);
      const leaf = Buffer.from(sha256Native(concatBytes(LEAF, bytes)));
      insertEntry.run(origin, seq, entry.kind, entry.time, bytes, leaf);
      let hash = leaf;
      let index = seq - 1;
      let level = 0;
      insertNode.run(origin, level, index, hash);
      while (index % 2 === 1) {
        hash = Buffer.from(sha256Native(concatBytes(NODE, edge.pop()!, hash)));
        level++;
        index = (index - 1) / 2;
        insertNode.run(origin, level, index, hash);
      }
      edge.push(hash);
      if (entry.kind === 'listing') {
        const id = listingId(origin, seq);
        const retractedBy = (seq + 1) % RETRACT_EVERY === 0 && seq + 1 <= count ? seq + 1 : null;
        insertListing.run(
          id,
          origin,
          seq,
          entry.category,
          entry.severity,
          entry.time,
          entry.bannedAt,
          entry.banUntil,
          entry.expiresAt,
          entry.evidenceDigest ?? null,
          retractedBy === null ? 'active' : 'retracted',
          retractedBy === null ? null : iso(START + retractedBy * 1000),
          retractedBy === null ? null : 'appeal_upheld',
          retractedBy,
        );
        for (const t of entry.tokens) insertToken.run(Buffer.from(t.token, 'hex'), t.type, t.epoch, id);
      }
      if (seq === nextCheckpoint || seq === count) {
        let root = edge[edge.length - 1]!;
        for (let i = edge.length - 2; i >= 0; i--) root = Buffer.from(sha256Native(concatBytes(NODE, edge[i]!, root)));
        const note = signCheckpoint({ origin: name, size: seq, root }, { name, secretKey: key.secretKey });
        const cosigned = note + cosignCheckpoint(note, { name: witnessName(FEDERATION), secretKey: witness.secretKey }, Math.floor(START / 1000) + seq);
        insertCheckpoint.run(origin, seq, root, cosigned, iso(START + seq * 1000));
        checkpoints++;
        nextCheckpoint = seq + Math.max(1, Math.round(every * (0.5 + random())));
      }
    }
  })();
  return checkpoints;
}

function benchRoster(origins: readonly string[], keys: Record<string, Ed25519KeyPair>, association: Ed25519KeyPair): Roster {
  const since = iso(START - 86_400_000);
  const unwrap = <T>(r: ({ ok: true } & T) | { ok: false; error: string }): T => {
    if (!r.ok) throw new Error(r.error);
    return r;
  };
  const endpoint = (id: string) => `https://${id}.bench.example`;
  let { draft } = unwrap(createDraft(FEDERATION, { id: 'assoc', name: 'Association', publicKey: toBase64(association.publicKey), endpoint: endpoint('assoc') }, since));
  for (const o of origins) ({ draft } = unwrap(addMember(draft, { id: o, name: o, publicKey: toBase64(keys[o]!.publicKey), endpoint: endpoint(o) }, since)));
  return unwrap(rosterFromDraft(draft, 1, since)).roster;
}

/** The baseline: every entry row through one bare prepared statement, each hashed natively. */
function readAndHash(handle: DatabaseHandle): number {
  const rows = handle.sqlite.prepare('SELECT bytes FROM log_entries ORDER BY origin, seq').raw().pluck();
  let n = 0;
  for (const bytes of rows.iterate() as IterableIterator<Uint8Array>) {
    if (sha256Native(concatBytes(LEAF, bytes)).length === 32) n++;
  }
  return n;
}

interface Timed<T> {
  value: T;
  wallSeconds: number;
  cpuSeconds: number;
}

async function timed<T>(fn: () => T | Promise<T>): Promise<Timed<T>> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = await fn();
  const cpu = process.cpuUsage(c0);
  return { value, wallSeconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function figure(count: number, t: Timed<unknown>): TimedFigure {
  return { wallSeconds: t.wallSeconds, cpuSeconds: t.cpuSeconds, entriesPerSecond: count / t.wallSeconds, entriesPerCpuSecond: count / t.cpuSeconds };
}

export async function runVerifyBench(options: VerifyBenchOptions = {}): Promise<VerifyBenchResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const count = options.entries ?? (options.quick ? 50_000 : 1_000_000);
  const every = options.perCheckpoint ?? 1000;
  const originCount = options.origins ?? 4;
  if (![count, every, originCount].every((n) => Number.isSafeInteger(n) && n >= 1)) throw new Error('entries, perCheckpoint and origins must be positive integers');
  const origins = Array.from({ length: originCount }, (_, i) => `member-${String.fromCharCode(97 + (i % 26))}${i >= 26 ? i : ''}`);
  const keys: Record<string, Ed25519KeyPair> = Object.fromEntries(origins.map((o) => [o, generateEd25519KeyPair()]));
  const association = generateEd25519KeyPair();
  const dir = options.keep ?? mkdtempSync(join(tmpdir(), 'jointban-verify-bench-'));
  const file = join(dir, 'bench.db');
  const handle = await openDatabase({ driver: 'sqlite', file });
  try {
    // Seeding is set-up, not what is measured: no fsync per commit, and a page cache large enough
    // for the token index, whose random keys otherwise make every insert a cache miss.
    handle.sqlite.pragma('synchronous = OFF');
    handle.sqlite.pragma('cache_size = -524288');
    const seeded = await timed(() =>
      origins.reduce((n, origin, i) => {
        const share = Math.floor(count / originCount) + (i < count % originCount ? 1 : 0);
        return n + seedOrigin(handle, origin, share, every, keys[origin]!, association);
      }, 0),
    );
    handle.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    // Measured with SQLite's default cache, as `jointban verify` opens the database.
    handle.sqlite.pragma('cache_size = -2000');
    const databaseBytes = Number(handle.sqlite.prepare('SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()').pluck().get());
    log(`seeded ${count} entries in ${originCount} logs, ${seeded.value} checkpoints, in ${seeded.wallSeconds.toFixed(1)} s (${(databaseBytes / 1e6).toFixed(0)} MB)`);
    const roster = benchRoster(origins, keys, association);
    const witness = { name: witnessName(FEDERATION), publicKey: association.publicKey };
    const outcomes: Record<string, number> = {};
    const onChunked = (_origin: string, outcome: string) => {
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    };
    const verifyAll = () => verifyStore(handle, { federation: FEDERATION, roster, witness, onChunked });
    const verifySingle = () => verifyStore(handle, { federation: FEDERATION, roster, witness, workers: 0 });

    // One pass of each first: the page cache and the JIT are then warm for both measurements.
    readAndHash(handle);
    await verifyAll();
    const baseline = await timed(() => readAndHash(handle));
    for (const k of Object.keys(outcomes)) delete outcomes[k];
    const verify = await timed(verifyAll);
    const chunked = { ...outcomes };
    await verifySingle();
    const singleThread = await timed(verifySingle);
    if (JSON.stringify(singleThread.value) !== JSON.stringify(verify.value)) throw new Error('verifyStore gave another result without worker threads');
    const entries = verify.value.reduce((n, r) => n + r.entries, 0);
    if (baseline.value !== count || entries !== count || !verify.value.every((r) => r.ok)) {
      throw new Error(
        `the generated store did not verify: ${JSON.stringify(
          verify.value.filter((r) => !r.ok),
          null,
          2,
        )}`,
      );
    }
    let profile: ProfileSummary | undefined;
    if (options.profile !== undefined) {
      const session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
      // In one thread: the inspector session sees this thread only, and the workers run the same
      // per-entry code (verify-chunk.ts shares the walk's checks).
      await verifySingle();
      const { profile: cpuProfile } = await session.post('Profiler.stop');
      session.disconnect();
      writeFileSync(options.profile, JSON.stringify(cpuProfile));
      profile = summariseProfile(cpuProfile as CpuProfile, 25);
    }
    let postgres: VerifyBenchResult['postgres'];
    if (options.postgres === true) {
      const { bin, where } = findPostgresBin();
      if (bin === undefined) throw new Error(`--postgres: no initdb and pg_ctl in ${where} (apt-get install postgresql)`);
      const cluster = await startTestCluster(bin, { durable: true });
      try {
        await adminQuery(cluster.url, 'CREATE DATABASE verify_bench');
        const url = databaseUrl(cluster.url, 'verify_bench');
        const copied = await timed(() => copySqliteToPostgres(file, url));
        log(`copied ${copied.value} rows into PostgreSQL in ${copied.wallSeconds.toFixed(1)} s`);
        const pgHandle = await openDatabase({ driver: 'postgres', url, poolSize: 4, connectTimeoutMs: 10_000, readonly: true });
        try {
          const verifyPg = () => verifyStore(pgHandle, { federation: FEDERATION, roster, witness });
          await verifyPg();
          const measured = await timed(verifyPg);
          if (JSON.stringify(measured.value) !== JSON.stringify(verify.value)) throw new Error('verifyStore gave another result on PostgreSQL');
          postgres = { verify: figure(count, measured), wallVsSqlite: measured.wallSeconds / verify.wallSeconds, copySeconds: copied.wallSeconds };
        } finally {
          await pgHandle.close();
        }
      } finally {
        await cluster.stop();
      }
    }
    return {
      ...(profile ? { profile } : {}),
      ...(postgres ? { postgres } : {}),
      entries: count,
      origins: originCount,
      checkpoints: verify.value.reduce((n, r) => n + r.checkpoints, 0),
      cosignedCheckpoints: verify.value.reduce((n, r) => n + r.cosignedCheckpoints, 0),
      seedSeconds: seeded.wallSeconds,
      databaseBytes,
      baseline: figure(count, baseline),
      verify: figure(count, verify),
      singleThread: figure(count, singleThread),
      chunked,
      workers: defaultWorkers(),
      cpuRatio: verify.cpuSeconds / baseline.cpuSeconds,
      wallRatio: verify.wallSeconds / baseline.wallSeconds,
      node: process.version,
    };
  } finally {
    await handle.close();
    if (options.keep === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

export function formatVerifyBench(r: VerifyBenchResult): string {
  const rate = (n: number) => Math.round(n).toLocaleString('en-US').padStart(11);
  const row = (label: string, f: TimedFigure, ratio: string) =>
    `${label.padEnd(34)} ${f.wallSeconds.toFixed(2).padStart(7)} ${rate(f.entriesPerSecond)} ${f.cpuSeconds.toFixed(2).padStart(7)} ${rate(f.entriesPerCpuSecond)} ${ratio.padStart(8)}`;
  return [
    `jointban verify bench: ${r.entries.toLocaleString('en-US')} entries in ${r.origins} logs, ${r.checkpoints} checkpoints (${r.cosignedCheckpoints} cosigned), Node ${r.node}`,
    `${''.padEnd(34)} ${'wall s'.padStart(7)} ${'entries/s'.padStart(11)} ${'cpu s'.padStart(7)} ${'entries/cpu-s'.padStart(11)} ${'cpu × base'.padStart(8)}`,
    row('baseline: prepared read + SHA-256', r.baseline, '1.00×'),
    row('verifyStore (jointban verify)', r.verify, `${r.cpuRatio.toFixed(2)}×`),
    row('verifyStore, one thread', r.singleThread, `${(r.singleThread.cpuSeconds / r.baseline.cpuSeconds).toFixed(2)}×`),
    `worker threads: ${r.workers}; logs verified on them, by outcome: ${JSON.stringify(r.chunked)}; wall time, one thread ÷ workers: ${(r.singleThread.wallSeconds / r.verify.wallSeconds).toFixed(2)}×`,
    `verify / baseline: ${r.cpuRatio.toFixed(2)}× by CPU time, ${r.wallRatio.toFixed(2)}× by wall time`,
    ...(r.postgres
      ? [
          `${row('verifyStore on PostgreSQL', r.postgres.verify, `${(r.postgres.verify.cpuSeconds / r.baseline.cpuSeconds).toFixed(2)}×`)}  (this process's CPU only: the server's is not counted)`,
          `PostgreSQL / SQLite, wall time: ${r.postgres.wallVsSqlite.toFixed(2)}× (the same store, copied in ${r.postgres.copySeconds.toFixed(1)} s)`,
        ]
      : []),
    ...(r.profile ? profileLines(r.profile) : []),
  ].join('\n');
}

function profileLines(p: ProfileSummary): string[] {
  const line = (l: { name: string; selfMs: number; share: number }) => `  ${l.name.slice(0, 70).padEnd(70)} ${l.selfMs.toFixed(0).padStart(6)} ms ${(l.share * 100).toFixed(1).padStart(5)}%`;
  return [
    `CPU profile of one more verify pass in one thread (workers: 0): busy ${p.busyMs.toFixed(0)} ms, idle ${p.idleMs.toFixed(0)} ms`,
    'self time by area',
    ...p.areas.slice(0, 12).map(line),
    'self time by function',
    ...p.functions.slice(0, 25).map(line),
  ];
}

function parseArgs(argv: readonly string[]): VerifyBenchOptions {
  const options: VerifyBenchOptions = {};
  const positional: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--postgres') options.postgres = true;
    else if (arg === '--origins') options.origins = Number(argv[++i]);
    else if (arg === '--keep') options.keep = argv[++i];
    else if (arg === '--profile') options.profile = argv[++i] ?? 'verify.cpuprofile';
    else if (/^\d+$/.test(arg)) positional.push(Number(arg));
    else throw new Error(`usage: verify-bench.js [entries] [entries per checkpoint] [--origins N] [--quick] [--postgres] [--profile FILE] [--keep DIR] (unknown argument ${arg})`);
  }
  if (positional[0] !== undefined) options.entries = positional[0];
  if (positional[1] !== undefined) options.perCheckpoint = positional[1];
  return options;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    console.log(formatVerifyBench(await runVerifyBench(parseArgs(process.argv.slice(2)))));
  } catch (err) {
    console.error(`verify-bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
