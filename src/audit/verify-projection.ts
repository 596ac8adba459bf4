/**
 * Checks that the listings projection and its token index, which checks read instead of the log,
 * say exactly what the log says: every listing entry has a `listings` row with the same fields and
 * a token row per token reference; every retracted row was retracted by the first retraction entry
 * of it, with that entry's time and reason; no row exists without an entry.
 *
 * Rows are compared a batch of entries at a time (`ProjectionRows`). Across batches only the
 * retractions are remembered (`RetractionLedger`: a bit per entry, and the rows whose retraction
 * comes later in the log). The two are separate so that a worker can compare the rows of its chunk
 * while the ledger, which spans the whole log, stays with the thread that walks the chunks in order.
 */
import type { Kysely, Transaction } from 'kysely';
import { listingId, type ListingEntry, type RetractionEntry } from '../log/entry.js';
import type { ListingRow, ListingRowsText, ListingTokenRow, LogBatchReader } from '../store/log-batch-reader.js';
import type { Database } from '../store/tables.js';
import type { OriginReport } from './verify-report.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A growable set of leaf indices or seqs, one bit each: 12.5 MB for a log of 100 million entries. */
export class IndexSet {
  #bits = new Uint8Array(1024);

  /** Where the bits start: the base rounded down to a multiple of 8, so bytes line up across sets. */
  readonly #origin: number;

  /** `base`: the smallest index the set holds, for a set over part of a log. */
  constructor(private readonly base = 0) {
    this.#origin = base - (base % 8);
  }

  /** The index of `bits()`'s first bit: `base` rounded down to a multiple of 8. */
  get bitsOrigin(): number {
    return this.#origin;
  }

  add(i: number): void {
    if (i < this.base) throw new RangeError(`index ${i} is below the set's base ${this.base}`);
    const byte = (i - this.#origin) >>> 3;
    if (byte >= this.#bits.length) this.#grow(byte);
    this.#bits[byte]! |= 1 << (i & 7);
  }

  has(i: number): boolean {
    if (i < this.base) return false;
    const byte = (i - this.#origin) >>> 3;
    return byte < this.#bits.length && (this.#bits[byte]! & (1 << (i & 7))) !== 0;
  }

  /** Adds the indices of another set's `bits()`, whose `bitsOrigin` was `offset`. */
  addBits(offset: number, bits: Uint8Array): void {
    if (offset % 8 !== 0 || offset < this.#origin) throw new RangeError('offset must be a multiple of 8 at or above the bits origin');
    const first = (offset - this.#origin) >>> 3;
    if (first + bits.length > this.#bits.length) this.#grow(first + bits.length - 1);
    for (let i = 0; i < bits.length; i++) this.#bits[first + i]! |= bits[i]!;
  }

  /** The set's bytes (a copy) from `bitsOrigin` up to, not including, index `end`. */
  bits(end: number): Uint8Array {
    const out = new Uint8Array(Math.ceil((end - this.#origin) / 8));
    out.set(this.#bits.subarray(0, Math.min(this.#bits.length, out.length)));
    return out;
  }

  #grow(byte: number): void {
    const grown = new Uint8Array(Math.max(byte + 1, this.#bits.length * 2));
    grown.set(this.#bits);
    this.#bits = grown;
  }
}

/** What a retracted row says about the retraction that retracted it. */
export interface RetractionClaim {
  /** The seq of the retracted listing (its row). */
  target: number;
  at: string | null;
  reason: string | null;
}

type Row = ListingRow;

/** The compared columns, their position in a row, and the entry field each must equal. */
const FIELDS = [
  ['category', 2, (e: ListingEntry) => e.category],
  ['severity', 3, (e: ListingEntry) => e.severity],
  ['listed_at', 4, (e: ListingEntry) => e.time],
  ['banned_at', 5, (e: ListingEntry) => e.bannedAt],
  ['ban_until', 6, (e: ListingEntry) => e.banUntil],
  ['expires_at', 7, (e: ListingEntry) => e.expiresAt],
  ['evidence_digest', 8, (e: ListingEntry) => e.evidenceDigest ?? null],
] as const;

type TokenRow = ListingTokenRow;

const HEX = '0123456789abcdef';

/** Whether `hex` is the lowercase hex of `bytes` (what `toString('hex')` gives), without building it. */
function isHexOf(hex: string, bytes: Uint8Array): boolean {
  if (hex.length !== bytes.length * 2) return false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (hex.charCodeAt(2 * i) !== HEX.charCodeAt(b >>> 4) || hex.charCodeAt(2 * i + 1) !== HEX.charCodeAt(b & 15)) return false;
  }
  return true;
}

/**
 * Whether the stored token rows tokens[from…to) are exactly the entry's token references. Both
 * sides are sets: an entry's references are unique (the decoder refuses duplicates), as are the rows
 * of one listing (the table's primary key), so equal sizes and inclusion mean equality.
 */
function sameTokens(tokens: readonly TokenRow[], from: number, to: number, entry: ListingEntry): boolean {
  if (to - from !== entry.tokens.length) return false;
  for (let i = from; i < to; i++) {
    const [, type, epoch, token] = tokens[i]!;
    if (!entry.tokens.some((t) => t.type === type && t.epoch === Number(epoch) && isHexOf(t.token, token))) return false;
  }
  return true;
}

/** A batch's listings rows as one aggregate row (`LogBatchReader.listingRowsText`). */
type RowsAggregate = ListingRowsText;

/** `[seq, status, retracted_at, retraction_reason, retraction_seq]` of a row that is not plainly active. */
type RetractionColumns = [unknown, unknown, unknown, unknown, unknown];

/**
 * Reads a text left to right against expected pieces, without building the expected text: joining
 * a batch's expected rows into one string cost more than reading them from the store.
 */
class TextCursor {
  #at = 0;

  constructor(private readonly text: string) {}

  /** Whether `piece` comes next; if so, moves past it. */
  next(piece: string): boolean {
    if (!this.text.startsWith(piece, this.#at)) return false;
    this.#at += piece.length;
    return true;
  }

  /**
   * Whether a JSON string holding `value` comes next. Only for values `checkEntry` accepted: every
   * string field of an entry is printable ASCII without `"` or a backslash, which JSON (the store's
   * aggregate text as JSON.stringify) writes between quotes as it is.
   */
  quoted(value: string): boolean {
    return this.next('"') && this.next(value) && this.next('"');
  }

  /** `quoted`, or `null` for null. */
  quotedOrNull(value: string | null): boolean {
    return value === null ? this.next('null') : this.quoted(value);
  }

  get atEnd(): boolean {
    return this.#at === this.text.length;
  }
}

/**
 * Whether the listings rows' JSON (`RowsAggregate`) and the token rows' JSON are, in order, exactly
 * what the log batch reader's aggregate texts hold for the listing entries: `[id,seq,category,severity,listed_at,
 * banned_at,ban_until,expires_at,evidence_digest]` per row and `[seq,type,epoch,token hex]` per
 * token (no spaces; safe integers as digits), joined by commas.
 */
function rowsMatch(origin: string, listings: readonly ListingEntry[], rowsJson: string, tokensJson: string): boolean {
  const rows = new TextCursor(rowsJson);
  const tokens = new TextCursor(tokensJson);
  let firstToken = true;
  for (let i = 0; i < listings.length; i++) {
    const e = listings[i]!;
    const seq = String(e.seq);
    const sameRow =
      rows.next(i === 0 ? '["' : ',["') &&
      rows.next(origin) &&
      rows.next(':') &&
      rows.next(seq) &&
      rows.next('",') &&
      rows.next(seq) &&
      rows.next(',') &&
      rows.quoted(e.category) &&
      rows.next(',') &&
      rows.quoted(e.severity) &&
      rows.next(',') &&
      rows.quoted(e.time) &&
      rows.next(',') &&
      rows.quoted(e.bannedAt) &&
      rows.next(',') &&
      rows.quotedOrNull(e.banUntil) &&
      rows.next(',') &&
      rows.quoted(e.expiresAt) &&
      rows.next(',') &&
      rows.quotedOrNull(e.evidenceDigest ?? null) &&
      rows.next(']');
    if (!sameRow) return false;
    for (const t of e.tokens) {
      const sameToken =
        tokens.next(firstToken ? '[' : ',[') &&
        tokens.next(seq) &&
        tokens.next(',') &&
        tokens.quoted(t.type) &&
        tokens.next(',') &&
        tokens.next(String(t.epoch)) &&
        tokens.next(',') &&
        tokens.quoted(t.token) &&
        tokens.next(']');
      if (!sameToken) return false;
      firstToken = false;
    }
  }
  return rows.atEnd && tokens.atEnd;
}

/** Compares the projection's rows with the listing entries, a batch of seqs at a time. */
export class ProjectionRows {
  /**
   * `reader` must read inside the read snapshot the verification runs in. Its aggregate rows make
   * the common case, a batch whose rows all agree, one string comparison instead of an array of
   * values per row (docs/BENCHMARKS.md, "Verification", fourth round); rows read in another order
   * than seq order only differ from the expected text and send the batch to the row-by-row comparison.
   * `onClaim` receives each retracted row's claim, keyed by its retraction seq, in seq order.
   */
  constructor(
    private readonly reader: LogBatchReader,
    private readonly origin: string,
    private readonly report: OriginReport,
    private readonly onClaim: (retractionSeq: number, claim: RetractionClaim) => void,
  ) {}

  /**
   * Whether the batch's rows are exactly what its listing entries say, with the claims of its
   * retracted rows handed to `onClaim`; false, with nothing handed on, when anything differs or is
   * not plainly well-formed, for `check`'s row-by-row comparison to name. JSON is unambiguous, so
   * texts that match piece by piece are equal values of equal types: the rows are then one per
   * listing entry, in seq order, with the entry's fields and tokens.
   */
  async #clean(first: number, last: number, listings: readonly ListingEntry[]): Promise<boolean> {
    let aggregate: RowsAggregate;
    let tokenRows: string | null;
    try {
      aggregate = await this.reader.listingRowsText(this.origin, first, last);
      tokenRows = await this.reader.listingTokensText(this.origin, first, last);
    } catch {
      // A blob where text belongs cannot be written as JSON: the row-by-row comparison names it.
      // (Any other error recurs in the row-by-row reads and propagates from there.)
      return false;
    }
    const [count, rowsJson, retractedJson] = aggregate;
    if (count !== listings.length) return false;
    if (count === 0) return tokenRows === null;
    if (rowsJson === null || tokenRows === null || !rowsMatch(this.origin, listings, rowsJson, tokenRows)) return false;
    const retracted = JSON.parse(retractedJson) as RetractionColumns[];
    for (const [seq, status, at, reason, retractionSeq] of retracted) {
      if (status !== 'retracted' || typeof seq !== 'number' || typeof retractionSeq !== 'number' || !Number.isSafeInteger(retractionSeq) || retractionSeq <= seq) return false;
      if ((at !== null && typeof at !== 'string') || (reason !== null && typeof reason !== 'string')) return false;
    }
    for (const [seq, , at, reason, retractionSeq] of retracted) this.onClaim(retractionSeq as number, { target: seq as number, at: at as string | null, reason: reason as string | null });
    return true;
  }

  /**
   * Compares the rows of seqs first…last with the batch's decoded listing entries (in log order).
   * Entries that failed to decode are absent from the list.
   */
  async check(first: number, last: number, listings: readonly ListingEntry[]): Promise<void> {
    if (await this.#clean(first, last, listings)) return;
    const { origin } = this;
    const rows = await this.reader.listingRows(origin, first, last);
    const tokens = await this.reader.listingTokens(origin, first, last);
    // Rows and entries are both in seq order (seqs unique on both sides): matched in step.
    let e = 0;
    let t = 0;
    let missing: ListingEntry[] | undefined;
    for (const row of rows) {
      const seq = Number(row[1]);
      while (e < listings.length && listings[e]!.seq < seq) (missing ??= []).push(listings[e++]!);
      const from = t;
      while (t < tokens.length && Number(tokens[t]![0]) <= seq) t++;
      if (e < listings.length && listings[e]!.seq === seq) this.checkRow(row, listings[e++]!, tokens, from, t);
      else this.mismatch(seq, `listings row ${row[0]} has no listing entry at seq ${seq}`);
    }
    while (e < listings.length) (missing ??= []).push(listings[e++]!);
    for (const entry of missing ?? []) this.mismatch(entry.seq, `listing ${listingId(origin, entry.seq)} has no listings row`);
  }

  private checkRow(row: Row, entry: ListingEntry, tokens: readonly TokenRow[], from: number, to: number): void {
    const id = listingId(this.origin, entry.seq);
    let same = row[0] === id && sameTokens(tokens, from, to, entry);
    for (const [, column, of] of FIELDS) same &&= row[column] === of(entry);
    const status = row[9];
    const retractionSeq = row[12] === null ? null : Number(row[12]);
    let statusOk = false;
    if (status === 'active') {
      statusOk = true;
      if (row[10] !== null || row[11] !== null || retractionSeq !== null) same = false;
    } else if (status === 'retracted' && retractionSeq !== null && retractionSeq > entry.seq) {
      statusOk = true;
      this.onClaim(retractionSeq, { target: entry.seq, at: row[10], reason: row[11] });
    }
    if (same && statusOk) return;
    // Only a differing row pays for naming what differs.
    const wrong: string[] = FIELDS.filter(([, column, of]) => row[column] !== of(entry)).map(([name]) => name);
    if (row[0] !== id) wrong.unshift('id');
    if (!sameTokens(tokens, from, to, entry)) wrong.push('tokens');
    if (status === 'active' && (row[10] !== null || row[11] !== null || retractionSeq !== null)) wrong.push('retraction fields of an active listing');
    if (!statusOk) wrong.push('status');
    this.mismatch(entry.seq, `listings row ${id} differs from its entry in: ${wrong.join(', ')}`);
  }

  private mismatch(seq: number, message: string): void {
    this.report.fail('projection_mismatch', message, { index: seq - 1 });
  }
}

/**
 * The retractions of one log in log order against what the rows claim: the first retraction of a
 * listing governs its row, a repeated one changes nothing, and every claim must be answered.
 */
export class RetractionLedger {
  /** Seqs of listings already retracted by an earlier retraction entry. */
  readonly #retracted = new IndexSet();
  /**
   * Retraction seq → the rows that say that retraction retracted them, until the walk reaches it.
   * A list: two rows can name one retraction, and only one of them can be its target.
   */
  readonly #claims = new Map<number, RetractionClaim[]>();

  constructor(
    private readonly origin: string,
    private readonly report: OriginReport,
  ) {}

  /** A row's claim, before the retraction entry it names is reached. */
  claim(retractionSeq: number, claim: RetractionClaim): void {
    const claims = this.#claims.get(retractionSeq);
    if (claims === undefined) this.#claims.set(retractionSeq, [claim]);
    else claims.push(claim);
  }

  retract(r: RetractionEntry): void {
    const claims = this.#claims.get(r.seq) ?? [];
    this.#claims.delete(r.seq);
    const target = listingId(this.origin, r.target);
    if (this.#retracted.has(r.target)) {
      // A repeated retraction changes nothing in the projection; the first one governs.
      for (const claim of claims) this.mismatch(claim.target, `listing ${listingId(this.origin, claim.target)} is marked retracted by seq ${r.seq}, a repeated retraction of ${target}`);
      return;
    }
    this.#retracted.add(r.target);
    const own = claims.find((c) => c.target === r.target);
    if (own === undefined) this.mismatch(r.target, `listing ${target} is not marked retracted by the retraction at seq ${r.seq}`);
    else if (own.at !== r.time || own.reason !== r.reason) this.mismatch(r.target, `listing ${target}: the retraction time or reason differs from the retraction at seq ${r.seq}`);
    for (const claim of claims) {
      if (claim !== own) this.mismatch(claim.target, `listing ${listingId(this.origin, claim.target)} is marked retracted by seq ${r.seq}, which retracts ${target}`);
    }
  }

  /** After the whole log: claims no retraction answered. */
  finish(): void {
    for (const [seq, claims] of this.#claims) {
      for (const claim of claims) this.mismatch(claim.target, `listing ${listingId(this.origin, claim.target)} is marked retracted by seq ${seq}, which is not a retraction of it`);
    }
  }

  private mismatch(seq: number, message: string): void {
    this.report.fail('projection_mismatch', message, { index: seq - 1 });
  }
}

/** Rows beyond a log of `size` entries: they have no entry, whatever they say. */
export async function checkRowsBeyond(db: Db, origin: string, size: number, report: OriginReport): Promise<void> {
  const row = await db
    .selectFrom('listings')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('origin', '=', origin)
    .where((eb) => eb.or([eb('seq', '<', 1), eb('seq', '>', size)]))
    .executeTakeFirst();
  const beyond = Number(row?.n ?? 0);
  if (beyond > 0) report.fail('projection_mismatch', `${beyond} listings rows of ${origin} have a seq outside its log of ${size} entries`);
}

/** The whole projection check of one log walked in one thread: rows a batch at a time, then the ledger. */
export class ProjectionCheck {
  readonly #ledger: RetractionLedger;
  readonly #rows: ProjectionRows;

  /** `reader` must read inside `db`'s read transaction, which the whole verification runs in. */
  constructor(
    private readonly db: Db,
    reader: LogBatchReader,
    private readonly origin: string,
    private readonly report: OriginReport,
  ) {
    this.#ledger = new RetractionLedger(origin, report);
    this.#rows = new ProjectionRows(reader, origin, report, (seq, claim) => this.#ledger.claim(seq, claim));
  }

  /** The rows of seqs first…last, then the batch's retractions (a retraction may retract a listing of its own batch). */
  async checkBatch(first: number, last: number, listings: readonly ListingEntry[], retractions: readonly RetractionEntry[]): Promise<void> {
    await this.#rows.check(first, last, listings);
    for (const r of retractions) this.#ledger.retract(r);
  }

  /** After the last batch of a log of `size` entries: rows beyond it, and claims no retraction answered. */
  async finish(size: number): Promise<void> {
    await checkRowsBeyond(this.db, this.origin, size, this.report);
    this.#ledger.finish();
  }
}
