/**
 * Bulk append (src/store/bulk-append.ts) on PostgreSQL: log entries, Merkle nodes, listings and
 * tokens written with COPY FROM STDIN (copy.ts) on the connection of the writer's transaction, so
 * they commit, or roll back, with it, as the reference's statements would.
 *
 * Why: an import batch or a sync page is thousands of rows per table. As multi-row INSERTs
 * (`kyselyBulkAppend`) each 100 to 250 rows cost a statement Kysely builds and compiles, pg sends
 * with every value as a bound parameter, and the server parses, plans and runs; COPY streams the
 * rows of a table as one statement the server reads without planning.
 *
 * Why not always: COPY costs two round trips (the COPY command, then the data), a bound INSERT one.
 * A table with fewer than `COPY_MIN_ROWS` rows to write (a listing created through the API, a
 * retraction, a short sync page) goes through the reference's INSERT instead, which is then the
 * faster path (docs/BENCHMARKS.md, "PostgreSQL import").
 *
 * The rows are the reference's, column for column (test/integration/bulk-append.test.ts compares
 * them), and in the same order: `listing_tokens.seq` (the token index's watermark) is drawn in COPY
 * row order, the entries' token order, as the INSERT draws it in VALUES order.
 */
import type { Transaction } from 'kysely';
import { listingId, type ListingEntry } from '../../log/entry.js';
import { kyselyBulkAppend, type BulkAppend, type BulkAppendFor, type ListingInsert } from '../bulk-append.js';
import type { Database, LogEntryTable, TreeNodeTable } from '../tables.js';
import { bytea, byteaOfHex, copyInto, nullable, NULL, text, type CopyInto } from './copy.js';

/**
 * Below this many rows of one table, one multi-row INSERT beats COPY's extra round trip. Measured
 * (token rows, one transaction each, median of 15, the loaded 2-core machine): 1–16 rows, INSERT
 * 1.7–2.4 ms against COPY 1.9–3.4 ms; 32–64 rows, a tie within the noise; 128 rows, 7.0 against
 * 4.8 ms; 250 rows, 16.6 against 8.8 ms.
 */
export const COPY_MIN_ROWS = 64;

// This side's deadline for one COPY (copy.ts) when the server sets none: generous, since it only
// has to catch a server that stopped answering, and growing with the rows so a big batch on a
// loaded machine is not cut off (320,000 token rows, the most one import batch can carry: 62 s).
const COPY_BASE_DEADLINE_MS = 30_000;
const COPY_DEADLINE_MS_PER_ROW = 0.1;
// With a statement timeout the server cancels a slow COPY itself (503 `unavailable`, code 57014);
// this side waits that long and a little more for its answer.
const COPY_DEADLINE_GRACE_MS = 5_000;

const ENTRY_COLUMNS = ['origin', 'seq', 'kind', 'time', 'bytes', 'leaf_hash'] as const;
const NODE_COLUMNS = ['origin', 'level', 'idx', 'hash'] as const;
const LISTING_COLUMNS = [
  'id',
  'origin',
  'seq',
  'category',
  'severity',
  'listed_at',
  'banned_at',
  'ban_until',
  'expires_at',
  'evidence_digest',
  'status',
  'retracted_at',
  'retraction_reason',
  'retraction_seq',
  'reference',
] as const;
const TOKEN_COLUMNS = ['token', 'type', 'epoch', 'listing_id'] as const;

function* entryLines(entries: readonly LogEntryTable[]): Generator<string> {
  for (const r of entries) yield `${text(r.origin)}\t${r.seq}\t${text(r.kind)}\t${text(r.time)}\t${bytea(r.bytes)}\t${bytea(r.leaf_hash)}\n`;
}

function* nodeLines(nodes: readonly TreeNodeTable[]): Generator<string> {
  for (const n of nodes) yield `${text(n.origin)}\t${n.level}\t${n.idx}\t${bytea(n.hash)}\n`;
}

// A new listing is active, never retracted: the last four columns before `reference` are fixed.
const ACTIVE_TAIL = `active\t${NULL}\t${NULL}\t${NULL}`;

function listingLine(entry: ListingEntry, id: string, reference: string | null): string {
  return `${text(id)}\t${text(entry.origin)}\t${entry.seq}\t${text(entry.category)}\t${text(entry.severity)}\t${text(entry.time)}\t${text(entry.bannedAt)}\t${nullable(entry.banUntil)}\t${text(entry.expiresAt)}\t${nullable(entry.evidenceDigest)}\t${ACTIVE_TAIL}\t${nullable(reference)}\n`;
}

function* listingLines(items: readonly ListingInsert[]): Generator<string> {
  for (const { entry, reference } of items) yield listingLine(entry, listingId(entry.origin, entry.seq), reference);
}

function* tokenLines(items: readonly ListingInsert[]): Generator<string> {
  for (const { entry } of items) {
    const id = text(listingId(entry.origin, entry.seq));
    for (const t of entry.tokens) yield `${byteaOfHex(t.token)}\t${text(t.type)}\t${t.epoch}\t${id}\n`;
  }
}

export interface PostgresBulkOptions {
  /** database.statementTimeoutMs, when set. */
  statementTimeoutMs?: number | undefined;
}

/** This side's deadline for a COPY of `rows` rows. */
export function copyDeadlineMs(options: PostgresBulkOptions, rows: number): number {
  return options.statementTimeoutMs !== undefined ? options.statementTimeoutMs + COPY_DEADLINE_GRACE_MS : Math.ceil(COPY_BASE_DEADLINE_MS + rows * COPY_DEADLINE_MS_PER_ROW);
}

/** The adapter for transactions of one PostgreSQL database (database.ts `bulkAppendOf`). */
export function postgresBulkAppend(options: PostgresBulkOptions = {}): BulkAppendFor {
  return (trx: Transaction<Database>): BulkAppend => {
    const reference = kyselyBulkAppend(trx);
    // The COPY runs inside provideConnection, which holds the transaction's one connection: no
    // other statement of the transaction can slip between the COPY command and its data.
    const copy = (table: string, columns: readonly string[], rows: number, lines: Iterable<string>) =>
      trx.getExecutor().provideConnection((connection) => copyInto(connection, { table, columns, lines, deadlineMs: copyDeadlineMs(options, rows) } satisfies CopyInto));
    return {
      async appendLog(entries, nodes) {
        if (entries.length < COPY_MIN_ROWS) await reference.appendLog(entries, []);
        else await copy('log_entries', ENTRY_COLUMNS, entries.length, entryLines(entries));
        if (nodes.length < COPY_MIN_ROWS) await reference.appendLog([], nodes);
        else await copy('tree_nodes', NODE_COLUMNS, nodes.length, nodeLines(nodes));
      },

      async insertListings(items) {
        const tokens = items.reduce((n, { entry }) => n + entry.tokens.length, 0);
        if (items.length < COPY_MIN_ROWS && tokens < COPY_MIN_ROWS) return reference.insertListings(items);
        // Listings before their tokens (listing_tokens.listing_id references listings.id).
        await copy('listings', LISTING_COLUMNS, items.length, listingLines(items));
        await copy('listing_tokens', TOKEN_COLUMNS, tokens, tokenLines(items));
      },

      retract: (entry) => reference.retract(entry),
    };
  };
}
