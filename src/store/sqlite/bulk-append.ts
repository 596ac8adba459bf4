/**
 * Bulk append (src/store/bulk-append.ts) on SQLite: log entries, Merkle nodes, listings and tokens
 * written with better-sqlite3 statements prepared once per connection and run row by row.
 *
 * Why: the profile of a bulk append (docs/BENCHMARKS.md, "Bulk import") spent most of its write
 * time in Kysely building and compiling multi-row INSERTs and in better-sqlite3 preparing each of
 * them anew; a cached statement run per row skips both. The SQL writes the same rows as the
 * reference (`kyselyBulkAppend`), and every method runs only inside a transaction a Kysely
 * `Transaction` on the same connection holds open (the writers take one in their constructor), so
 * the rows commit, or roll back, with that transaction.
 */
import type SQLite from 'better-sqlite3';
import { listingId } from '../../log/entry.js';
import type { BulkAppend } from '../bulk-append.js';

export const INSERT_ENTRY_SQL = 'INSERT INTO log_entries (origin, seq, kind, time, bytes, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)';
export const INSERT_NODE_SQL = 'INSERT INTO tree_nodes (origin, level, idx, hash) VALUES (?, ?, ?, ?)';
export const INSERT_LISTING_SQL =
  'INSERT INTO listings (id, origin, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, retracted_at, retraction_reason, retraction_seq, reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
export const INSERT_TOKEN_SQL = 'INSERT INTO listing_tokens (token, type, epoch, listing_id) VALUES (?, ?, ?, ?)';
export const RETRACT_SQL = "UPDATE listings SET status = 'retracted', retracted_at = ?, retraction_reason = ?, retraction_seq = ? WHERE id = ? AND status = 'active'";

interface BulkStatements {
  insertEntry: SQLite.Statement<[string, number, string, string, Buffer, Buffer]>;
  insertNode: SQLite.Statement<[string, number, number, Buffer]>;
  insertListing: SQLite.Statement<[string, string, number, string, string, string, string, string | null, string, string | null, string, null, null, null, string | null]>;
  insertToken: SQLite.Statement<[Buffer, string, number, string]>;
  retract: SQLite.Statement<[string, string, number, string]>;
}

const cache = new WeakMap<SQLite.Database, BulkAppend>();

/** A Buffer view of the same bytes (better-sqlite3 binds Buffers as blobs), without a copy. */
function blob(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The adapter of one connection, its statements prepared on first use. */
export function sqliteBulkAppend(sqlite: SQLite.Database): BulkAppend {
  let bulk = cache.get(sqlite);
  if (bulk) return bulk;
  const stmts: BulkStatements = {
    insertEntry: sqlite.prepare(INSERT_ENTRY_SQL),
    insertNode: sqlite.prepare(INSERT_NODE_SQL),
    insertListing: sqlite.prepare(INSERT_LISTING_SQL),
    insertToken: sqlite.prepare(INSERT_TOKEN_SQL),
    retract: sqlite.prepare(RETRACT_SQL),
  };
  bulk = {
    async appendLog(entries, nodes) {
      for (const r of entries) stmts.insertEntry.run(r.origin, r.seq, r.kind, r.time, blob(r.bytes), blob(r.leaf_hash));
      for (const n of nodes) stmts.insertNode.run(n.origin, n.level, n.idx, blob(n.hash));
    },

    async insertListings(items) {
      for (const { entry, reference } of items) {
        const id = listingId(entry.origin, entry.seq);
        stmts.insertListing.run(
          id,
          entry.origin,
          entry.seq,
          entry.category,
          entry.severity,
          entry.time,
          entry.bannedAt,
          entry.banUntil,
          entry.expiresAt,
          entry.evidenceDigest ?? null,
          'active',
          null,
          null,
          null,
          reference,
        );
        for (const t of entry.tokens) stmts.insertToken.run(Buffer.from(t.token, 'hex'), t.type, t.epoch, id);
      }
    },

    async retract(entry) {
      return stmts.retract.run(entry.time, entry.reason, entry.seq, listingId(entry.origin, entry.target)).changes === 1;
    },
  };
  cache.set(sqlite, bulk);
  return bulk;
}
