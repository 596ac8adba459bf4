/**
 * The bulk write paths on SQLite: log entries, Merkle nodes, listings and tokens written with
 * better-sqlite3 statements prepared once per connection and run row by row.
 *
 * Why: the profile of a bulk append (docs/BENCHMARKS.md, "Bulk import") spent most of its write
 * time in Kysely building and compiling multi-row INSERTs and in better-sqlite3 preparing each of
 * them anew; a cached statement run per row skips both. The SQL is the same the Kysely writers
 * issue, and every method runs only inside a transaction a Kysely `Transaction` holds open (the
 * writers take one in their constructor), so atomicity and durability are unchanged: the rows
 * commit, or roll back, with that transaction. Other dialects keep the Kysely path.
 */
import type SQLite from 'better-sqlite3';

export interface BulkStatements {
  insertEntry: SQLite.Statement<[string, number, string, string, Buffer, Buffer]>;
  insertNode: SQLite.Statement<[string, number, number, Buffer]>;
  insertListing: SQLite.Statement<[string, string, number, string, string, string, string, string | null, string, string | null, string, null, null, null, string | null]>;
  insertToken: SQLite.Statement<[Buffer, string, number, string]>;
  retract: SQLite.Statement<[string, string, number, string]>;
}

const cache = new WeakMap<SQLite.Database, BulkStatements>();

/** The statements of one connection, prepared on first use. */
export function bulkStatements(sqlite: SQLite.Database): BulkStatements {
  let stmts = cache.get(sqlite);
  if (stmts) return stmts;
  stmts = {
    insertEntry: sqlite.prepare('INSERT INTO log_entries (origin, seq, kind, time, bytes, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)'),
    insertNode: sqlite.prepare('INSERT INTO tree_nodes (origin, level, idx, hash) VALUES (?, ?, ?, ?)'),
    insertListing: sqlite.prepare(
      'INSERT INTO listings (id, origin, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, retracted_at, retraction_reason, retraction_seq, reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertToken: sqlite.prepare('INSERT INTO listing_tokens (token, type, epoch, listing_id) VALUES (?, ?, ?, ?)'),
    retract: sqlite.prepare("UPDATE listings SET status = 'retracted', retracted_at = ?, retraction_reason = ?, retraction_seq = ? WHERE id = ? AND status = 'active'"),
  };
  cache.set(sqlite, stmts);
  return stmts;
}

/** A Buffer view of the same bytes (better-sqlite3 binds Buffers as blobs), without a copy. */
export function blob(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
