/**
 * The log batch reader (src/store/log-batch-reader.ts) on SQLite: prepared better-sqlite3
 * statements, once per connection, in raw mode (rows as arrays). A Kysely query per batch was an
 * eighth of the time of a whole-store verification (docs/BENCHMARKS.md, "Verification").
 *
 * The aggregate reads have no ORDER BY: sorting inside an aggregate cost as much as the rest of
 * the query. Each scans a primary key or the (origin, seq) index, which gives the order wanted, and
 * each names its seqs or indices, so a plan that scanned otherwise would only make the verifier
 * read the rows instead.
 */
import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { EntryBatch, EntryRow, ListingRow, ListingRowsText, ListingTokenRow, LogBatchReader, LogSnapshots, OwnLogBatchReader, TreeNodeRow, TreeNodeRun } from '../log-batch-reader.js';
import { openSqlite } from './connection.js';
import type { Database } from '../tables.js';

type Range = [string, number, number];
type LevelRange = [string, number, number, number];

export const ENTRY_ROWS_SQL = 'SELECT seq, kind, time, bytes, leaf_hash FROM log_entries WHERE origin = ? AND seq >= ? AND seq <= ? ORDER BY seq';

/**
 * Within the range, as many well-formed rows as seqs are one row per seq: seq is unique (the
 * primary key) and an integer.
 */
export const ENTRY_BATCH_SQL = `SELECT count(*),
   sum(typeof(seq) = 'integer' AND typeof(bytes) = 'blob' AND typeof(leaf_hash) = 'blob' AND typeof(kind) = 'text' AND typeof(time) = 'text'),
   group_concat(seq),
   CAST(group_concat(X'00' || bytes, '') AS BLOB),
   group_concat(octet_length(bytes)),
   CAST(group_concat(leaf_hash, '') AS BLOB),
   group_concat(kind || ' ' || time)
 FROM log_entries WHERE origin = ? AND seq >= ? AND seq <= ?`;

export const TREE_NODES_SQL = 'SELECT idx, hash FROM tree_nodes WHERE origin = ? AND level = ? AND idx >= ? AND idx < ? ORDER BY idx';

export const TREE_NODE_RUN_SQL = `SELECT count(*), sum(typeof(idx) = 'integer' AND typeof(hash) = 'blob' AND octet_length(hash) = 32), group_concat(idx), CAST(group_concat(hash, '') AS BLOB)
 FROM tree_nodes WHERE origin = ? AND level = ? AND idx >= ? AND idx < ?`;

export const TREE_NODE_COUNT_SQL = 'SELECT count(*) FROM tree_nodes WHERE origin = ?';

export const LISTING_ROWS_SQL = `SELECT id, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, retracted_at, retraction_reason, retraction_seq
 FROM listings WHERE origin = ? AND seq >= ? AND seq <= ? ORDER BY seq`;

/** Ordered by the listing, so the rows of one listing are consecutive and are matched in step. */
export const LISTING_TOKENS_SQL = `SELECT l.seq, t.type, t.epoch, t.token FROM listings AS l INNER JOIN listing_tokens AS t ON t.listing_id = l.id
 WHERE l.origin = ? AND l.seq >= ? AND l.seq <= ? ORDER BY l.seq`;

export const LISTING_ROWS_TEXT_SQL = `SELECT count(*),
   group_concat(json_array(id, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest), ','),
   json_group_array(json_array(seq, status, retracted_at, retraction_reason, retraction_seq))
     FILTER (WHERE status IS NOT 'active' OR retracted_at IS NOT NULL OR retraction_reason IS NOT NULL OR retraction_seq IS NOT NULL)
 FROM listings WHERE origin = ? AND seq >= ? AND seq <= ?`;

/**
 * In seq order, and within a listing in the order its tokens were inserted (the listing_id index's
 * rowid order), which is the entry's order wherever the projection is written (listing-repository.ts).
 */
export const LISTING_TOKENS_TEXT_SQL = `SELECT group_concat(json_array(l.seq, t.type, t.epoch, lower(hex(t.token))), ',')
 FROM listings AS l INNER JOIN listing_tokens AS t ON t.listing_id = l.id
 WHERE l.origin = ? AND l.seq >= ? AND l.seq <= ?`;

export const LOG_SIZE_SQL = 'SELECT max(seq) FROM log_entries WHERE origin = ?';

export const CHECKPOINT_SIZES_SQL = 'SELECT size FROM checkpoints WHERE origin = ? AND size > ? AND size <= ? ORDER BY size';

/** The reads on one connection, which must be inside the read transaction they are meant to see. */
export class SqliteLogBatchReader implements LogBatchReader {
  readonly #entryRows: SQLite.Statement<Range, EntryRow>;
  readonly #entryBatch: SQLite.Statement<Range, EntryBatch>;
  readonly #treeNodes: SQLite.Statement<LevelRange, TreeNodeRow>;
  readonly #treeNodeRun: SQLite.Statement<LevelRange, TreeNodeRun>;
  readonly #treeNodeCount: SQLite.Statement<[string], number>;
  readonly #listingRows: SQLite.Statement<Range, ListingRow>;
  readonly #listingTokens: SQLite.Statement<Range, ListingTokenRow>;
  readonly #listingRowsText: SQLite.Statement<Range, ListingRowsText>;
  readonly #listingTokensText: SQLite.Statement<Range, string | null>;
  readonly #logSize: SQLite.Statement<[string], number | null>;
  readonly #checkpointSizes: SQLite.Statement<Range, number>;

  constructor(sqlite: SQLite.Database) {
    this.#entryRows = sqlite.prepare<Range, EntryRow>(ENTRY_ROWS_SQL).raw();
    this.#entryBatch = sqlite.prepare<Range, EntryBatch>(ENTRY_BATCH_SQL).raw();
    this.#treeNodes = sqlite.prepare<LevelRange, TreeNodeRow>(TREE_NODES_SQL).raw();
    this.#treeNodeRun = sqlite.prepare<LevelRange, TreeNodeRun>(TREE_NODE_RUN_SQL).raw();
    this.#treeNodeCount = sqlite.prepare<[string], number>(TREE_NODE_COUNT_SQL).pluck();
    this.#listingRows = sqlite.prepare<Range, ListingRow>(LISTING_ROWS_SQL).raw();
    this.#listingTokens = sqlite.prepare<Range, ListingTokenRow>(LISTING_TOKENS_SQL).raw();
    this.#listingRowsText = sqlite.prepare<Range, ListingRowsText>(LISTING_ROWS_TEXT_SQL).raw();
    this.#listingTokensText = sqlite.prepare<Range, string | null>(LISTING_TOKENS_TEXT_SQL).pluck();
    this.#logSize = sqlite.prepare<[string], number | null>(LOG_SIZE_SQL).pluck();
    this.#checkpointSizes = sqlite.prepare<Range, number>(CHECKPOINT_SIZES_SQL).pluck();
  }

  entryRows(origin: string, first: number, last: number): EntryRow[] {
    return this.#entryRows.all(origin, first, last);
  }

  entryBatch(origin: string, first: number, last: number): EntryBatch {
    // An aggregate without GROUP BY answers one row, even over no rows.
    return this.#entryBatch.get(origin, first, last)!;
  }

  treeNodes(origin: string, level: number, from: number, to: number): TreeNodeRow[] {
    return this.#treeNodes.all(origin, level, from, to);
  }

  treeNodeRun(origin: string, level: number, from: number, to: number): TreeNodeRun {
    return this.#treeNodeRun.get(origin, level, from, to)!;
  }

  treeNodeCount(origin: string): number {
    return this.#treeNodeCount.get(origin) ?? 0;
  }

  listingRows(origin: string, first: number, last: number): ListingRow[] {
    return this.#listingRows.all(origin, first, last);
  }

  listingTokens(origin: string, first: number, last: number): ListingTokenRow[] {
    return this.#listingTokens.all(origin, first, last);
  }

  listingRowsText(origin: string, first: number, last: number): ListingRowsText {
    return this.#listingRowsText.get(origin, first, last)!;
  }

  listingTokensText(origin: string, first: number, last: number): string | null {
    return this.#listingTokensText.get(origin, first, last) ?? null;
  }

  logSize(origin: string): number {
    return this.#logSize.get(origin) ?? 0;
  }

  checkpointSizes(origin: string, after: number, upTo: number): number[] {
    return this.#checkpointSizes.all(origin, after, upTo);
  }
}

/**
 * The snapshots of a store opened by `openDatabase` (database.ts): Kysely's SQLite driver runs on
 * the one connection `sqlite`, so a reader on that connection reads inside Kysely's transaction.
 * The reads answer synchronously (the port's `Answer<T>` is the value itself).
 */
export function sqliteLogSnapshots(db: Kysely<Database>, sqlite: SQLite.Database): LogSnapshots {
  // An in-memory or temporary database has no file another connection could open.
  const target = sqlite.memory || sqlite.name === '' ? undefined : ({ engine: 'sqlite', file: sqlite.name } as const);
  return {
    read: (read) => db.transaction().execute((trx) => read({ db: trx, reader: new SqliteLogBatchReader(sqlite), workerTarget: async () => target })),
  };
}

/** A reader on a connection of its own, which it closes when done. */
class OwnSqliteLogBatchReader extends SqliteLogBatchReader implements OwnLogBatchReader {
  constructor(private readonly own: SQLite.Database) {
    super(own);
  }

  async close(): Promise<void> {
    this.own.close();
  }
}

/** A read-only connection of its own with a deferred `BEGIN`: its snapshot is taken at its first read. */
export function openSqliteLogBatchReader(file: string): OwnLogBatchReader {
  const sqlite = openSqlite(file, true);
  sqlite.exec('BEGIN');
  return new OwnSqliteLogBatchReader(sqlite);
}
