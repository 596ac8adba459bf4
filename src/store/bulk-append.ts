/**
 * Bulk append: the storage port the log and listings writers (log-repository.ts,
 * listing-repository.ts) write their rows through, inside the writer's transaction. Two
 * implementations: `kyselyBulkAppend` here, dialect-neutral multi-row Kysely statements, which is
 * the reference; and one fast adapter per engine (src/store/sqlite/bulk-append.ts: statements
 * prepared once per connection; src/store/postgres/bulk-append.ts: COPY FROM STDIN on the
 * transaction's connection), which must write exactly the same rows
 * (test/integration/bulk-append.test.ts compares them). Either way the rows commit, or roll back,
 * with the writer's transaction: atomicity and durability do not depend on the adapter.
 */
import type { Transaction } from 'kysely';
import { listingId, type ListingEntry, type RetractionEntry } from '../log/entry.js';
import type { Database, LogEntryTable, TreeNodeTable } from './tables.js';

/** A listing entry and the platform's reference for it (local to the origin node). */
export interface ListingInsert {
  entry: ListingEntry;
  reference: string | null;
}

export interface BulkAppend {
  /** Entry rows and the Merkle nodes they complete, of one log. */
  appendLog(entries: readonly LogEntryTable[], nodes: readonly TreeNodeTable[]): Promise<void>;
  /** Active listings rows and their token rows, the tokens in each entry's order. */
  insertListings(items: readonly ListingInsert[]): Promise<void>;
  /** Marks the retraction's target retracted, if it is active; whether it was. */
  retract(entry: RetractionEntry): Promise<boolean>;
}

/**
 * How a writer gets the adapter for the transaction it writes in: `kyselyBulkAppend` itself, or an
 * engine's (`bulkAppendOf` in database.ts).
 */
export type BulkAppendFor = (trx: Transaction<Database>) => BulkAppend;

// Rows per multi-row statement: 6, 4, 15 and 4 bound parameters each, far under SQLite's and
// PostgreSQL's limits.
const ENTRY_CHUNK = 100;
const NODE_CHUNK = 200;
const LISTING_CHUNK = 100;
const TOKEN_CHUNK = 250;

/** The reference implementation, on any dialect: Kysely statements on the writer's transaction. */
export function kyselyBulkAppend(trx: Transaction<Database>): BulkAppend {
  return {
    async appendLog(entries, nodes) {
      for (let i = 0; i < entries.length; i += ENTRY_CHUNK)
        await trx
          .insertInto('log_entries')
          .values(entries.slice(i, i + ENTRY_CHUNK))
          .execute();
      for (let i = 0; i < nodes.length; i += NODE_CHUNK)
        await trx
          .insertInto('tree_nodes')
          .values(nodes.slice(i, i + NODE_CHUNK))
          .execute();
    },

    async insertListings(items) {
      const rows = items.map(({ entry, reference }) => ({
        id: listingId(entry.origin, entry.seq),
        origin: entry.origin,
        seq: entry.seq,
        category: entry.category,
        severity: entry.severity,
        listed_at: entry.time,
        banned_at: entry.bannedAt,
        ban_until: entry.banUntil,
        expires_at: entry.expiresAt,
        evidence_digest: entry.evidenceDigest ?? null,
        status: 'active' as const,
        retracted_at: null,
        retraction_reason: null,
        retraction_seq: null,
        reference,
      }));
      const tokens = items.flatMap(({ entry }) =>
        entry.tokens.map((t) => ({
          token: new Uint8Array(Buffer.from(t.token, 'hex')),
          type: t.type,
          epoch: t.epoch,
          listing_id: listingId(entry.origin, entry.seq),
        })),
      );
      for (let i = 0; i < rows.length; i += LISTING_CHUNK)
        await trx
          .insertInto('listings')
          .values(rows.slice(i, i + LISTING_CHUNK))
          .execute();
      for (let i = 0; i < tokens.length; i += TOKEN_CHUNK)
        await trx
          .insertInto('listing_tokens')
          .values(tokens.slice(i, i + TOKEN_CHUNK))
          .execute();
    },

    async retract(entry) {
      const result = await trx
        .updateTable('listings')
        .set({ status: 'retracted', retracted_at: entry.time, retraction_reason: entry.reason, retraction_seq: entry.seq })
        .where('id', '=', listingId(entry.origin, entry.target))
        .where('status', '=', 'active')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
