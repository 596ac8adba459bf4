/**
 * The listings projection and its token index: what checks read. Rows are written only from log
 * entries, inside the transaction that appends those entries (see service/listings.ts and the
 * sync ingest), so the projection never disagrees with the log.
 */
import type { Kysely, Transaction } from 'kysely';
import type { IdentifierType } from '../identifiers/types.js';
import type { ListingEntry, RetractionEntry } from '../log/entry.js';
import { listingId } from '../log/entry.js';
import { kyselyBulkAppend, type BulkAppend, type BulkAppendFor, type ListingInsert } from './bulk-append.js';
import type { Database, ListingTable } from './tables.js';
import { recordWatchEvents } from './watch-repository.js';

export type ListingRow = ListingTable;

export interface TokenMatchRow {
  listing: ListingRow;
  type: IdentifierType;
  epoch: number;
  token: Uint8Array;
}

export interface TokenQuery {
  type: IdentifierType;
  token: Uint8Array;
  /** Undefined matches the token under any epoch. */
  epoch?: number;
}

function toRow(row: ListingTable): ListingRow {
  return { ...row, seq: Number(row.seq), retraction_seq: row.retraction_seq === null ? null : Number(row.retraction_seq) };
}

// Values per `IN` list, far under SQLite's and PostgreSQL's bound-parameter limits.
const REFERENCE_CHUNK = 500;

function tokenKey(type: string, token: Uint8Array): string {
  return `${type}/${Buffer.from(token).toString('hex')}`;
}

export class ListingReader {
  constructor(protected readonly db: Kysely<Database> | Transaction<Database>) {}

  async byId(id: string): Promise<ListingRow | undefined> {
    const row = await this.db.selectFrom('listings').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRow(row) : undefined;
  }

  /** The listings of `origin` carrying a platform reference, whatever their status, oldest first. */
  async byReference(origin: string, reference: string): Promise<ListingRow[]> {
    // The origin is filtered here, not in SQL: see referencesListed.
    const rows = await this.db.selectFrom('listings').selectAll().where('reference', '=', reference).orderBy('seq').execute();
    return rows.filter((r) => r.origin === origin).map(toRow);
  }

  async tokensOf(id: string): Promise<{ type: IdentifierType; epoch: number; token: Uint8Array }[]> {
    const rows = await this.db.selectFrom('listing_tokens').select(['type', 'epoch', 'token']).where('listing_id', '=', id).execute();
    return rows.map((r) => ({ type: r.type as IdentifierType, epoch: r.epoch, token: new Uint8Array(r.token) }));
  }

  /**
   * Listings that are not retracted and not expired at `now` and carry one of the tokens. A token
   * matches only under its own identifier type (and epoch, when the query names one).
   */
  async matchTokens(queries: readonly TokenQuery[], now: string): Promise<TokenMatchRow[]> {
    if (queries.length === 0) return [];
    const rows = await this.db
      .selectFrom('listing_tokens as t')
      .innerJoin('listings as l', 'l.id', 't.listing_id')
      .selectAll('l')
      .select(['t.type as t_type', 't.epoch as t_epoch', 't.token as t_token'])
      .where(
        't.token',
        'in',
        queries.map((q) => q.token),
      )
      .where('l.status', '=', 'active')
      .where('l.expires_at', '>', now)
      .execute();
    const wanted = new Map<string, TokenQuery[]>();
    for (const q of queries) {
      const key = tokenKey(q.type, q.token);
      wanted.set(key, [...(wanted.get(key) ?? []), q]);
    }
    const out: TokenMatchRow[] = [];
    for (const r of rows) {
      const qs = wanted.get(tokenKey(r.t_type, r.t_token));
      if (!qs?.some((q) => q.epoch === undefined || q.epoch === r.t_epoch)) continue;
      const { t_type, t_epoch, t_token, ...listing } = r;
      out.push({ listing: toRow(listing), type: t_type as IdentifierType, epoch: t_epoch, token: new Uint8Array(t_token) });
    }
    return out;
  }

  /** Whether any listing of `origin` lacks a reference (one scan; a bulk import asks once per run). */
  async hasUnreferenced(origin: string): Promise<boolean> {
    const row = await this.db.selectFrom('listings').select('id').where('origin', '=', origin).where('reference', 'is', null).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Active, unexpired listings of `origin` without a reference that carry one of these tokens, each
   * with all its tokens (service/reconnect.ts). Looked up by token, the origin and reference checked
   * here, as in referencesListed: so the token index drives the query.
   */
  async unreferencedByTokens(origin: string, tokens: readonly Uint8Array[], now: string): Promise<{ listing: ListingRow; tokens: { type: IdentifierType; epoch: number; token: Uint8Array }[] }[]> {
    const ids = new Set<string>();
    for (let i = 0; i < tokens.length; i += REFERENCE_CHUNK) {
      const rows = await this.db
        .selectFrom('listing_tokens as t')
        .innerJoin('listings as l', 'l.id', 't.listing_id')
        .select(['l.id', 'l.origin', 'l.reference', 'l.status', 'l.expires_at'])
        .where('t.token', 'in', tokens.slice(i, i + REFERENCE_CHUNK))
        .execute();
      for (const r of rows) if (r.origin === origin && r.reference === null && r.status === 'active' && r.expires_at > now) ids.add(r.id);
    }
    const out = [];
    for (const id of ids) {
      const listing = await this.byId(id);
      if (listing) out.push({ listing, tokens: await this.tokensOf(id) });
    }
    return out;
  }

  /**
   * Which of these references name a listing of `origin`, whatever its status: one query per
   * chunk (the bulk import asks once per batch, not once per row).
   */
  async referencesListed(origin: string, references: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const unique = [...new Set(references)];
    for (let i = 0; i < unique.length; i += REFERENCE_CHUNK) {
      // By reference alone, the origin checked here: given `origin = ? AND reference IN (…)`,
      // SQLite (no ANALYZE statistics) picks the (origin, seq) index and reads every listing of the
      // origin per chunk, which made a million-row import quadratic. Only the node's own listings
      // carry references, so the reference index returns a handful of rows.
      const rows = await this.db
        .selectFrom('listings')
        .select(['origin', 'reference'])
        .where('reference', 'in', unique.slice(i, i + REFERENCE_CHUNK))
        .execute();
      for (const r of rows) if (r.origin === origin && r.reference !== null) found.add(r.reference);
    }
    return found;
  }
}

export class ListingWriter extends ListingReader {
  readonly #bulk: BulkAppend;

  /**
   * `now` stamps the watch events this change records (docs/EVENTS.md); the system clock by default.
   * `bulk` as for LogWriter: how the rows are written, the Kysely statements by default.
   */
  constructor(
    private readonly trx: Transaction<Database>,
    private readonly now: Date = new Date(),
    bulk: BulkAppendFor = kyselyBulkAppend,
  ) {
    super(trx);
    this.#bulk = bulk(trx);
  }

  async insertListing(entry: ListingEntry, reference: string | null): Promise<void> {
    await this.insertListings([{ entry, reference }]);
  }

  /** Several listings and their tokens, and their watch events. */
  async insertListings(items: readonly ListingInsert[]): Promise<void> {
    await this.#bulk.insertListings(items);
    await recordWatchEvents(
      this.trx,
      'match',
      items.map(({ entry }) => listingId(entry.origin, entry.seq)),
      this.now,
    );
  }

  /**
   * Records the platform's reference on one of `origin`'s listings that has none (a listing fetched
   * back from peers after a restore: the log does not carry references). False if it has one.
   */
  async attachReference(origin: string, id: string, reference: string): Promise<boolean> {
    const result = await this.trx.updateTable('listings').set({ reference }).where('id', '=', id).where('origin', '=', origin).where('reference', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Marks the target listing retracted; returns false when there is no active listing to retract. */
  async applyRetraction(entry: RetractionEntry): Promise<boolean> {
    const id = listingId(entry.origin, entry.target);
    const retracted = await this.#bulk.retract(entry);
    // The watch hook belongs to the projection change, whichever adapter wrote it.
    if (retracted) await recordWatchEvents(this.trx, 'lift', [id], this.now);
    return retracted;
  }
}
