/**
 * The log batch reader: the storage port `jointban verify` (src/audit/verify*.ts) walks a store
 * through. Every read it makes of entries, Merkle nodes and the listings projection, a range of
 * one origin at a time, inside one read snapshot, so a node appending meanwhile cannot make a
 * consistent store look broken. One adapter per engine (src/store/sqlite/log-batch-reader.ts,
 * src/store/postgres/log-batch-reader.ts and log-snapshots.ts); the verifier never asks which
 * engine it reads.
 *
 * Rows are tuples, as the engine hands them back, not objects: a whole-store verification reads
 * every row of the store, and an object per row was a visible share of its time
 * (docs/BENCHMARKS.md, "Verification"). Each range also has an aggregate form, the common case
 * read as one row of concatenations; the verifier compares the aggregate with what the entries
 * say and falls back to the rows, which name what differs, whenever it does not match. An engine
 * without an aggregate form answers one that matches nothing (a count of -1, null texts): the
 * verifier then reads the rows, slower but with the same result.
 *
 * A read answers at once on an engine whose driver is synchronous (SQLite) and with a promise on
 * one whose driver is not (PostgreSQL): `Answer<T>`. The verifier awaits each answer, once per
 * range, never per row, so the synchronous engine pays a microtask per batch and nothing more.
 */
import type { Transaction } from 'kysely';
import type { Database } from './tables.js';

/** What a read of the port answers: the value itself, or a promise of it (see above). */
export type Answer<T> = T | Promise<T>;

/** seq, kind, time, bytes, leaf_hash of one entry. */
export type EntryRow = [number, string, string, Uint8Array, Uint8Array];

/**
 * A range of entries as one row: how many rows, how many of them well-formed (integer seq, blob
 * bytes and leaf hash, text kind and time), their seqs joined by commas, every entry's bytes each
 * after a 0x00 byte (the leaf hash's prefix), their byte lengths joined by commas, the leaf hashes
 * concatenated, and `kind time` per row joined by commas; all in the one order the rows were read.
 */
export type EntryBatch = [number, number | null, string | null, Uint8Array | null, string | null, Uint8Array | null, string | null];

/** idx, hash of one stored Merkle node. */
export type TreeNodeRow = [number, Uint8Array];

/** A range of stored nodes as one row: how many, how many well-formed (integer index, 32-byte blob), their indices joined by commas, their hashes concatenated. */
export type TreeNodeRun = [number, number | null, string | null, Uint8Array | null];

/** id, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, retracted_at, retraction_reason, retraction_seq. */
export type ListingRow = [string, number, string, string, string, string, string | null, string, string | null, string, string | null, string | null, number | null];

/** listing seq, type, epoch, token: the token rows of a range's listings, grouped by listing. */
export type ListingTokenRow = [number, string, number, Uint8Array];

/**
 * A range's listings rows as one row: how many; the columns an entry determines as JSON arrays
 * `[id,seq,category,severity,listed_at,banned_at,ban_until,expires_at,evidence_digest]` (no spaces)
 * joined by commas; and `[seq,status,retracted_at,retraction_reason,retraction_seq]` of the rows
 * that are not plainly active, as one JSON array. In seq order.
 */
export type ListingRowsText = [number, string | null, string];

export interface LogBatchReader {
  /** The entries of `origin` with first ≤ seq ≤ last, in seq order. */
  entryRows(origin: string, first: number, last: number): Answer<EntryRow[]>;
  /** The same entries as one aggregate row. */
  entryBatch(origin: string, first: number, last: number): Answer<EntryBatch>;
  /** The stored nodes of `origin` at `level` with from ≤ idx < to, in index order. */
  treeNodes(origin: string, level: number, from: number, to: number): Answer<TreeNodeRow[]>;
  /** The same nodes as one aggregate row. */
  treeNodeRun(origin: string, level: number, from: number, to: number): Answer<TreeNodeRun>;
  /** How many nodes of `origin` are stored, at every level. */
  treeNodeCount(origin: string): Answer<number>;
  /** The listings rows of `origin` with first ≤ seq ≤ last, in seq order. */
  listingRows(origin: string, first: number, last: number): Answer<ListingRow[]>;
  /** The token rows of those listings, in seq order and within a listing in insertion order. */
  listingTokens(origin: string, first: number, last: number): Answer<ListingTokenRow[]>;
  /** The listings rows as one aggregate row. May throw where a row cannot be written as text (the rows then name it). */
  listingRowsText(origin: string, first: number, last: number): Answer<ListingRowsText>;
  /** The token rows as `[seq,type,epoch,token hex]` JSON arrays joined by commas, in `listingTokens`' order; null for none. May throw as above. */
  listingTokensText(origin: string, first: number, last: number): Answer<string | null>;
  /** The highest seq of `origin`'s entries, 0 for none. */
  logSize(origin: string): Answer<number>;
  /** The sizes of `origin`'s stored checkpoints with after < size ≤ upTo, ascending. */
  checkpointSizes(origin: string, after: number, upTo: number): Answer<number[]>;
}

/**
 * Where another thread opens its own reader on the same store (`openLogBatchReader`). Plain data:
 * it crosses to a worker thread. On SQLite the file, read in a WAL snapshot of the worker's own
 * (verify-parallel.ts guards against a log that moved meanwhile); on PostgreSQL the server and the
 * snapshot the coordinating transaction exported, which the worker's transaction imports: it reads
 * exactly what the coordinator reads.
 */
export type LogReaderTarget = { engine: 'sqlite'; file: string } | { engine: 'postgres'; url: string; snapshot: string; connectTimeoutMs: number; statementTimeoutMs?: number | undefined };

/** One read snapshot of a store, as `LogSnapshots.read` hands it over. */
export interface LogSnapshot {
  /** Kysely reads in the snapshot. */
  db: Transaction<Database>;
  /** The port's reads in the same snapshot. */
  reader: LogBatchReader;
  /**
   * Where worker threads open readers of their own (asked only when workers are about to start);
   * undefined when no other connection can (an in-memory store).
   */
  workerTarget(): Promise<LogReaderTarget | undefined>;
}

/** A store's log batch readers, as the database handle offers them (database.ts). */
export interface LogSnapshots {
  /**
   * Runs `read` inside one read-only transaction: what it reads through `db` (Kysely) and through
   * `reader` is one snapshot of the store. Writes nothing and, on PostgreSQL, takes no writer lock.
   */
  read<T>(read: (snapshot: LogSnapshot) => Promise<T>): Promise<T>;
}

/** A worker's reader: the port, and the connection to end when the worker is done. */
export interface OwnLogBatchReader extends LogBatchReader {
  close(): Promise<void>;
}

/**
 * A reader of its own, for a worker thread (src/audit/verify-worker.ts), in a read snapshot of its
 * own taken at its first read (SQLite) or the coordinator's imported (PostgreSQL). Loads the
 * engine's driver alone, not Kysely and the migrations, which took most of a worker's start-up time.
 */
export async function openLogBatchReader(target: LogReaderTarget): Promise<OwnLogBatchReader> {
  if (target.engine === 'sqlite') return (await import('./sqlite/log-batch-reader.js')).openSqliteLogBatchReader(target.file);
  return (await import('./postgres/log-batch-reader.js')).openPostgresLogBatchReader(target);
}
