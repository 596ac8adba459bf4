/**
 * Re-verifies every log a node holds (its own and the ones it mirrors) from the first entry, as an
 * auditor would, trusting nothing the node stored but the roster: `jointban verify`.
 *
 * For each origin the entries are walked in seq order, a batch at a time (memory is bounded by the
 * batch, never the log). Each entry must decode strictly (canonical RFC 8785 bytes), satisfy the
 * rules of a log that sync ingest applies too (log/validate.ts: its origin, its position, a
 * retraction's target an earlier listing, dated before any suspension of its origin), and hash to
 * its stored leaf hash. The RFC 9162 tree is rebuilt from those leaves
 * and every stored Merkle node compared with it (verify-tree.ts). Each stored checkpoint is checked
 * when the walk reaches its size (verify-checkpoints.ts), and the listings projection compared with
 * the entries (verify-projection.ts). Everything happens in one read transaction, so a running node
 * appending meanwhile cannot make a consistent store look broken. The per-batch reads go through
 * the store's log batch reader (src/store/log-batch-reader.ts) in that transaction's snapshot: a
 * Kysely query per batch was an eighth of the time of a whole-store verification
 * (docs/BENCHMARKS.md, "Verification").
 *
 * Consistency between successive checkpoints needs no RFC 9162 consistency proof here: every
 * checkpoint's signed root is recomputed from one and the same leaf sequence, so if each matches,
 * each tree is a prefix of the next, which is exactly what a consistency proof would show.
 */
import type { Kysely, Transaction } from 'kysely';
import { logOrigin } from '../log/checkpoint.js';
import type { NoteVerifier } from '../log/note.js';
import type { Witness } from '../roster/witness.js';
import { findMember, memberKeys, type MemberKey, type Roster } from '../roster/index.js';
import type { DatabaseHandle } from '../store/database.js';
import type { LogBatchReader, LogSnapshot } from '../store/log-batch-reader.js';
import type { Database } from '../store/tables.js';
import { entryReads, newWalk, walkEntries } from './verify-entries.js';
import { CheckpointCheck } from './verify-checkpoints.js';
import { ChunkPool, DEFAULT_CHUNK_LEVEL, defaultWorkers, verifyChunked, type ChunkedOutcome } from './verify-parallel.js';
import { ProjectionCheck } from './verify-projection.js';
import { OriginReport, type OriginVerification } from './verify-report.js';
import { TreeCheck, type BinaryHash } from './verify-tree.js';

export * from './verify-report.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface VerifyStoreOptions {
  federation: string;
  /** The roster the node holds: member keys and suspensions. Undefined if it holds none yet. */
  roster: Roster | undefined;
  /** Without a roster: the node's own member id and key, so that at least its own log is verified. */
  self?: { member: string; publicKey: Uint8Array };
  /** The witness whose C2SP cosignatures are verified and counted: its key history, or one key. */
  witness?: Witness | NoteVerifier;
  /** A checkpoint without a witness cosignature is a failure, not a warning. */
  requireCosignatures?: boolean;
  /** Entries per batch (default 1024). */
  batchSize?: number;
  /**
   * Worker threads to verify large logs on (verify-parallel.ts); default one per core, at most 8.
   * 0 verifies in this thread only, as does a store that is not a file or workers that cannot start.
   */
  workers?: number;
  /** Logs are cut into chunks of 2^chunkLevel leaves for the workers (default 13: 8192 leaves). */
  chunkLevel?: number;
  /**
   * Workers start only for at least this many entries in logs of more than one chunk (default
   * 65,536). Each worker starts cold (its own V8 isolate, its own JIT warm-up): on a smaller store
   * that costs more than a second thread gains (docs/BENCHMARKS.md, "Verification").
   */
  workerThreshold?: number;
  /** The worker's script (default: verify-worker.js beside this module, as built in dist/). */
  workerScript?: URL;
  /**
   * Told how each log given to the workers fared: `verified` is the result reported; any other
   * outcome means the log was verified again in this thread, whose report is the one returned.
   */
  onChunked?: (origin: string, outcome: ChunkedOutcome) => void;
}

export interface VerifyProgress {
  origin: string;
  /** Entries of this origin verified so far. */
  verified: number;
  total: number;
}

/**
 * Entries read and compared at a time. A batch is read as one row of concatenations (verify-entries.ts),
 * whose strings and blobs die young at this size; at 5000 they were large objects, collected with
 * the old generation, and a whole-store walk took half as long again (docs/BENCHMARKS.md,
 * "Verification", fourth round).
 */
export const DEFAULT_BATCH_SIZE = 1024;
export const DEFAULT_WORKER_THRESHOLD = 65_536;

/** Every origin the node holds anything of: entries, checkpoints or listings. */
async function heldOrigins(db: Db): Promise<{ origin: string; size: number; rows: number }[]> {
  const logs = await db
    .selectFrom('log_entries')
    .select((eb) => ['origin', eb.fn.max('seq').as('size'), eb.fn.countAll().as('rows')])
    .groupBy('origin')
    .execute();
  const out = new Map(logs.map((r) => [r.origin, { origin: r.origin, size: Number(r.size), rows: Number(r.rows) }]));
  const others = await db.selectFrom('checkpoints').select('origin').union(db.selectFrom('listings').select('origin')).execute();
  for (const { origin } of others) if (!out.has(origin)) out.set(origin, { origin, size: 0, rows: 0 });
  return [...out.values()].sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0));
}

/**
 * Verifies every log in the store and returns one result per origin, in origin order. Never throws
 * for bad data (that is what it reports); a database error propagates.
 */
export async function verifyStore(handle: Pick<DatabaseHandle, 'logSnapshots'>, options: VerifyStoreOptions, onProgress?: (p: VerifyProgress) => void): Promise<OriginVerification[]> {
  return handle.logSnapshots.read(async (snapshot) => {
    const { db: trx, reader } = snapshot;
    const results: OriginVerification[] = [];
    const held = await heldOrigins(trx);
    const level = options.chunkLevel ?? DEFAULT_CHUNK_LEVEL;
    const chunkedEntries = held.filter((h) => chunkable(h, level)).reduce((n, h) => n + h.size, 0);
    const pool = chunkedEntries > 0 && chunkedEntries >= (options.workerThreshold ?? DEFAULT_WORKER_THRESHOLD) ? await startPool(snapshot, options) : undefined;
    try {
      for (const h of held) {
        const chunked = pool !== undefined && chunkable(h, level) ? await verifyLogChunked(trx, reader, h, options, pool, onProgress) : undefined;
        results.push(chunked ?? (await verifyLog(trx, reader, h, options, onProgress)));
      }
    } finally {
      await pool?.close();
    }
    return results;
  });
}

/** A log worth cutting into chunks: more than one, and nothing wrong before its first entry. */
function chunkable(held: { size: number; rows: number }, level: number): boolean {
  return held.size > 2 ** level && held.rows === held.size;
}

async function startPool(snapshot: LogSnapshot, options: VerifyStoreOptions): Promise<ChunkPool | undefined> {
  const workers = options.workers ?? defaultWorkers();
  if (workers < 1) return undefined;
  const target = await snapshot.workerTarget();
  if (target === undefined) return undefined;
  return ChunkPool.start(options.workerScript ?? new URL('./verify-worker.js', import.meta.url), target, options.roster, workers);
}

function keysOf(origin: string, options: VerifyStoreOptions): MemberKey[] | undefined {
  if (options.roster !== undefined) {
    const keys = memberKeys(findMember(options.roster, origin));
    return keys.length > 0 ? keys : undefined;
  }
  return options.self?.member === origin ? [{ publicKey: options.self.publicKey }] : undefined;
}

function witnessKeys(witness: Witness | NoteVerifier | undefined): Witness | undefined {
  if (witness === undefined || 'keys' in witness) return witness;
  return { name: witness.name, keys: [{ publicKey: witness.publicKey }] };
}

/** What a log's walk needs whichever thread walks it: its report with the failures known before the first entry, and its checkpoints. */
function beginLog(db: Db, held: { origin: string; size: number; rows: number }, options: VerifyStoreOptions): { report: OriginReport; checkpoints: CheckpointCheck; inRoster: boolean } {
  const { origin, size } = held;
  const report = new OriginReport(origin);
  const keys = keysOf(origin, options);
  if (keys === undefined) {
    report.fail(
      'unknown_member',
      options.roster ? `${origin} is not in the roster: nothing of its log can be trusted` : `${origin} is not this node's own log, and without a roster there is no key to verify it with`,
    );
  }
  if (held.rows > size) report.fail('bad_entry', `${held.rows - size} stored entries of ${origin} have a seq outside 1…${size}`);
  const checkpoints = new CheckpointCheck(
    db,
    origin,
    {
      keys: keys ? { name: logOrigin(options.federation, origin), keys } : undefined,
      witness: witnessKeys(options.witness),
      requireCosignatures: options.requireCosignatures ?? false,
    },
    report,
  );
  const inRoster = options.roster !== undefined && findMember(options.roster, origin) !== undefined;
  return { report, checkpoints, inRoster };
}

/** The log on the workers; undefined (after telling `onChunked` why) when it must be walked here. */
async function verifyLogChunked(
  db: Db,
  reader: LogBatchReader,
  held: { origin: string; size: number; rows: number },
  options: VerifyStoreOptions,
  pool: ChunkPool,
  onProgress: ((p: VerifyProgress) => void) | undefined,
): Promise<OriginVerification | undefined> {
  const { origin, size } = held;
  const { report, checkpoints, inRoster } = beginLog(db, held, options);
  const outcome = report.failed
    ? 'failed'
    : await verifyChunked(pool, {
        db,
        reader,
        origin,
        size,
        inRoster,
        level: options.chunkLevel ?? DEFAULT_CHUNK_LEVEL,
        report,
        checkpoints,
        onProgress: onProgress && ((verified) => onProgress({ origin, verified, total: size })),
      });
  options.onChunked?.(origin, typeof outcome === 'string' ? outcome : 'verified');
  return typeof outcome === 'string' ? undefined : outcome;
}

async function verifyLog(
  db: Db,
  reader: LogBatchReader,
  held: { origin: string; size: number; rows: number },
  options: VerifyStoreOptions,
  onProgress: ((p: VerifyProgress) => void) | undefined,
): Promise<OriginVerification> {
  const { origin, size } = held;
  const { report, checkpoints, inRoster } = beginLog(db, held, options);
  const tree = new TreeCheck(reader, origin, report);
  const projection = new ProjectionCheck(db, reader, origin, report);
  const walk = newWalk(origin, inRoster ? options.roster : undefined, report);
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const reads = entryReads(reader);
  const onLeaf = (leafHash: BinaryHash, storedTime: string) => {
    tree.append(leafHash);
    // The stored time column: the walk reports it if it differs from the signed bytes.
    if (checkpoints.nextSize() === tree.size) checkpoints.check(tree.size, tree.root(), storedTime);
  };

  await checkpoints.load(-1, 0);
  checkpoints.check(0, tree.root(), undefined);
  for (let first = 1; first <= size; first += batchSize) {
    const last = Math.min(size, first + batchSize - 1);
    await checkpoints.load(first - 1, last);
    await walkEntries(walk, reads, first, last, onLeaf);
    report.entries = tree.size;
    await tree.flush();
    await projection.checkBatch(first, tree.size, walk.listings, walk.retractions);
    onProgress?.({ origin, verified: tree.size, total: size });
    if (tree.size !== last) {
      // Without the missing leaf no later root can be computed: stop here rather than report noise.
      report.fail('missing_entry', `entry ${tree.size} (seq ${tree.size + 1}) of ${origin} is missing: the ${size - tree.size} entries from there on were not verified`, { index: tree.size });
      return report.result();
    }
  }
  await tree.finish();
  await checkpoints.finish(size);
  await projection.finish(size);
  return report.result();
}
