/**
 * Checks that the listings projection and its token index, which checks read instead of the log,
 * say exactly what the log says: every listing entry has a `listings` row with the same fields and
 * a token row per token reference; every retracted row was retracted by the first retraction entry
 * of it, with that entry's time and reason; no row exists without an entry.
 *
 * Rows are compared a batch of entries at a time. Across batches only the retractions are
 * remembered (a bit per entry, and the rows whose retraction comes later in the log).
 */
import type SQLite from 'better-sqlite3';
import type { Kysely, Transaction } from 'kysely';
import { listingId, type ListingEntry, type RetractionEntry } from '../log/entry.js';
import type { Database, ListingTable } from '../store/tables.js';
import type { OriginReport } from './verify-report.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A growable set of leaf indices or seqs, one bit each: 12.5 MB for a log of 100 million entries. */
export class IndexSet {
  #bits = new Uint8Array(1024);

  add(i: number): void {
    const byte = i >>> 3;
    if (byte >= this.#bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.#bits.length * 2));
      grown.set(this.#bits);
      this.#bits = grown;
    }
    this.#bits[byte]! |= 1 << (i & 7);
  }

  has(i: number): boolean {
    const byte = i >>> 3;
    return byte < this.#bits.length && (this.#bits[byte]! & (1 << (i & 7))) !== 0;
  }
}

/** What a retracted row says about the retraction that retracted it. */
interface RetractionClaim {
  target: number;
  at: string | null;
  reason: string | null;
}

type Row = Omit<ListingTable, 'reference' | 'origin'>;

const FIELDS = [
  ['category', (e: ListingEntry) => e.category],
  ['severity', (e: ListingEntry) => e.severity],
  ['listed_at', (e: ListingEntry) => e.time],
  ['banned_at', (e: ListingEntry) => e.bannedAt],
  ['ban_until', (e: ListingEntry) => e.banUntil],
  ['expires_at', (e: ListingEntry) => e.expiresAt],
  ['evidence_digest', (e: ListingEntry) => e.evidenceDigest ?? null],
] as const;

const tokenKey = (t: { type: string; epoch: number; token: string }): string => `${t.type}/${t.epoch}/${t.token}`;

/**
 * Whether the stored token rows are exactly the entry's token references. Both sides are sets: an
 * entry's references are unique (the decoder refuses duplicates), as are the rows of one listing
 * (the table's primary key), so equal sizes and inclusion mean equality.
 */
function sameTokens(stored: readonly string[], entry: ListingEntry): boolean {
  if (stored.length !== entry.tokens.length) return false;
  const expected = new Set(entry.tokens.map(tokenKey));
  return stored.every((key) => expected.has(key));
}

export class ProjectionCheck {
  /** Seqs of listings already retracted by an earlier retraction entry. */
  readonly #retracted = new IndexSet();
  /** Retraction seq → the row that says that retraction retracted it, until the walk reaches it. */
  readonly #claims = new Map<number, RetractionClaim>();

  readonly #rows: SQLite.Statement<[string, number, number], Row>;
  /** listing_id, type, epoch, token. */
  readonly #tokens: SQLite.Statement<[string, number, number], [string, string, number, Uint8Array]>;

  /** `sqlite` must be the connection of `db`'s read transaction, which the whole verification runs in. */
  constructor(
    private readonly db: Db,
    sqlite: SQLite.Database,
    private readonly origin: string,
    private readonly report: OriginReport,
  ) {
    this.#rows = sqlite.prepare<[string, number, number], Row>(
      `SELECT id, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, retracted_at, retraction_reason, retraction_seq
       FROM listings WHERE origin = ? AND seq >= ? AND seq <= ? ORDER BY seq`,
    );
    this.#tokens = sqlite
      .prepare<[string, number, number], [string, string, number, Uint8Array]>(
        `SELECT t.listing_id, t.type, t.epoch, t.token FROM listing_tokens AS t INNER JOIN listings AS l ON l.id = t.listing_id
         WHERE l.origin = ? AND l.seq >= ? AND l.seq <= ?`,
      )
      .raw();
  }

  /**
   * Compares the rows of seqs first…last with the batch's decoded listing and retraction entries
   * (in log order). Entries that failed to decode are absent from both lists.
   */
  checkBatch(first: number, last: number, listings: readonly ListingEntry[], retractions: readonly RetractionEntry[]): void {
    const { origin } = this;
    const rows = this.#rows.all(origin, first, last);
    const tokenRows = this.#tokens.all(origin, first, last);
    const tokens = new Map<string, string[]>();
    for (const [listing, type, epoch, token] of tokenRows) {
      const key = tokenKey({ type, epoch: Number(epoch), token: Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString('hex') });
      const list = tokens.get(listing);
      if (list === undefined) tokens.set(listing, [key]);
      else list.push(key);
    }

    const bySeq = new Map(listings.map((e) => [e.seq, e]));
    for (const row of rows) {
      const seq = Number(row.seq);
      const entry = bySeq.get(seq);
      bySeq.delete(seq);
      if (entry === undefined) {
        this.mismatch(seq, `listings row ${row.id} has no listing entry at seq ${seq}`);
        continue;
      }
      this.checkRow(row, entry, tokens.get(row.id) ?? []);
    }
    for (const missing of bySeq.values()) this.mismatch(missing.seq, `listing ${listingId(origin, missing.seq)} has no listings row`);
    // After the rows: a retraction may retract a listing of its own batch.
    for (const r of retractions) this.checkRetraction(r);
  }

  /** After the last batch of a log of `size` entries: rows beyond it, and claims no retraction answered. */
  async finish(size: number): Promise<void> {
    const row = await this.db
      .selectFrom('listings')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('origin', '=', this.origin)
      .where((eb) => eb.or([eb('seq', '<', 1), eb('seq', '>', size)]))
      .executeTakeFirst();
    const beyond = Number(row?.n ?? 0);
    if (beyond > 0) this.report.fail('projection_mismatch', `${beyond} listings rows of ${this.origin} have a seq outside its log of ${size} entries`);
    for (const [seq, claim] of this.#claims) {
      this.mismatch(claim.target, `listing ${listingId(this.origin, claim.target)} is marked retracted by seq ${seq}, which is not a retraction of it`);
    }
  }

  private checkRow(row: Row, entry: ListingEntry, tokens: readonly string[]): void {
    const id = listingId(this.origin, entry.seq);
    const wrong: string[] = FIELDS.filter(([column, of]) => row[column] !== of(entry)).map(([column]) => column);
    if (row.id !== id) wrong.unshift('id');
    if (!sameTokens(tokens, entry)) wrong.push('tokens');
    if (row.status === 'active') {
      if (row.retracted_at !== null || row.retraction_reason !== null || row.retraction_seq !== null) wrong.push('retraction fields of an active listing');
    } else if (row.status === 'retracted' && row.retraction_seq !== null && Number(row.retraction_seq) > entry.seq) {
      this.#claims.set(Number(row.retraction_seq), { target: entry.seq, at: row.retracted_at, reason: row.retraction_reason });
    } else {
      wrong.push('status');
    }
    if (wrong.length > 0) this.mismatch(entry.seq, `listings row ${id} differs from its entry in: ${wrong.join(', ')}`);
  }

  private checkRetraction(r: RetractionEntry): void {
    const claim = this.#claims.get(r.seq);
    this.#claims.delete(r.seq);
    const target = listingId(this.origin, r.target);
    if (this.#retracted.has(r.target)) {
      // A repeated retraction changes nothing in the projection; the first one governs.
      if (claim !== undefined) this.mismatch(claim.target, `listing ${listingId(this.origin, claim.target)} is marked retracted by seq ${r.seq}, a repeated retraction of ${target}`);
      return;
    }
    this.#retracted.add(r.target);
    if (claim === undefined || claim.target !== r.target) {
      this.mismatch(r.target, `listing ${target} is not marked retracted by the retraction at seq ${r.seq}`);
      if (claim !== undefined) this.mismatch(claim.target, `listing ${listingId(this.origin, claim.target)} is marked retracted by seq ${r.seq}, which retracts ${target}`);
    } else if (claim.at !== r.time || claim.reason !== r.reason) {
      this.mismatch(r.target, `listing ${target}: the retraction time or reason differs from the retraction at seq ${r.seq}`);
    }
  }

  private mismatch(seq: number, message: string): void {
    this.report.fail('projection_mismatch', message, { index: seq - 1 });
  }
}
