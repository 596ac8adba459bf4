/**
 * The token index and the API-key lookup on SQLite (token-index.ts, the ports): the one place that
 * owns prepared better-sqlite3 statements for the check hot path, and the in-memory token filter
 * (token-filter.ts) that answers misses without SQLite. Everything else reads through Kysely, which
 * builds and prepares each query anew (~25 µs a query): fine for a listing write, a quarter of a
 * check's budget.
 *
 * Keeping the token filter in step with the projection, whoever writes it (this node's listings and
 * retractions, the sync ingest, an import, another process on the same file):
 * - rows of `listing_tokens` are only ever inserted (nothing deletes or updates them), so their
 *   rowids only grow: the filter remembers the highest rowid it has read, and before each check reads
 *   the rows past it, if any: one indexed `max(rowid)` per check, or none when the API-key check
 *   of the same request already read it (`dataVersion`, `match`'s `receivedAt`);
 * - it only reads while no transaction is open on this connection, so it sees committed rows only;
 *   a check that comes while one is open (an async Kysely transaction in flight) takes the Kysely
 *   path, which waits for the transaction to end;
 * - the filter only answers "certainly not listed". A token it may hold is confirmed by SQLite with
 *   the same conditions as `ListingReader.matchTokens`: the listing is active (retractions) and
 *   `expires_at` is after now (expiry). The roster check stays in the check service.
 * Until `warmUp()` has read every token, `match` returns undefined and checks take the Kysely path;
 * /readyz reports not ready meanwhile.
 *
 * Start-up: reading 10M token rows takes seconds, so the filter is also kept in a snapshot file
 * (token-snapshot.ts), written after a warm-up from SQLite and when the node stops, and used at
 * start when it fits this database (`snapshotFits`, with rowid as the position). Otherwise the
 * filter is read from SQLite. Either way the rows past the watermark are read before the first check.
 */
import type SQLite from 'better-sqlite3';
import type { IdentifierType } from '../../identifiers/types.js';
import type { TokenMatchRow, TokenQuery } from '../listing-repository.js';
import type { ApiKeyTable, ListingTable } from '../tables.js';
import type { ApiKeyLookup, TokenIndex } from '../token-index.js';
import { snapshotFits, type TokenSnapshot } from '../token-snapshot.js';
import { TokenFilter } from '../token-filter.js';
import { TokenFilterIndex, type TokenSnapshotOptions } from '../token-filter-index.js';

/** Rows read per slice while warming up; between slices the event loop runs (and /readyz answers). */
const WARM_UP_SLICE = 250_000;

type MatchRow = ListingTable & { t_type: string; t_epoch: number };

export class SqliteTokenIndex extends TokenFilterIndex implements TokenIndex, ApiKeyLookup {
  private readonly maxRowid: SQLite.Statement<[], number | null>;
  private readonly tokensBetween: SQLite.Statement<[number, number], Buffer>;
  private readonly matchToken: SQLite.Statement<[Uint8Array, string, string], MatchRow>;
  private readonly apiKeyById: SQLite.Statement<[string], ApiKeyTable>;
  private readonly freshness: SQLite.Statement<[], [number, number | null]>;
  private readonly tokenAt: SQLite.Statement<[number], Buffer>;
  private readonly confirmInReadTransaction: (queries: readonly TokenQuery[], now: string) => TokenMatchRow[];
  /**
   * `performance.now()` just before the last catch-up read `max(rowid)`: the filter holds every token
   * committed before then.
   */
  private caughtUpAt = -Infinity;

  constructor(
    private readonly sqlite: SQLite.Database,
    options: TokenSnapshotOptions = {},
  ) {
    super(options, 'sqlite');
    this.maxRowid = sqlite.prepare<[], number | null>('SELECT max(rowid) FROM listing_tokens').pluck();
    this.tokensBetween = sqlite.prepare<[number, number], Buffer>('SELECT token FROM listing_tokens WHERE rowid > ? AND rowid <= ?').pluck();
    this.matchToken = sqlite.prepare<[Uint8Array, string, string], MatchRow>(
      `SELECT l.*, t.type AS t_type, t.epoch AS t_epoch FROM listing_tokens t JOIN listings l ON l.id = t.listing_id
       WHERE t.token = ? AND t.type = ? AND l.status = 'active' AND l.expires_at > ?`,
    );
    this.apiKeyById = sqlite.prepare<[string], ApiKeyTable>('SELECT * FROM api_keys WHERE id = ?');
    this.freshness = sqlite.prepare<[], [number, number | null]>('SELECT (SELECT data_version FROM pragma_data_version), (SELECT max(rowid) FROM listing_tokens)').raw() as unknown as SQLite.Statement<
      [],
      [number, number | null]
    >;
    this.tokenAt = sqlite.prepare<[number], Buffer>('SELECT token FROM listing_tokens WHERE rowid = ?').pluck();
    // The confirmations of one check in one read transaction, begun and ended within one synchronous
    // call: a statement outside a transaction takes and releases SQLite's file locks itself (system
    // calls, 4-6 µs a statement on our machine), which a listed person's three tokens paid thrice.
    this.confirmInReadTransaction = sqlite.transaction((queries: readonly TokenQuery[], now: string) => this.confirm(queries, now));
  }

  warmUp(): Promise<boolean> {
    return this.fill(
      // The watermark must be a committed rowid (see catchUp): wait out a transaction of this connection.
      async () => {
        while (this.sqlite.inTransaction && !this.closed) await new Promise<void>((resolve) => setTimeout(resolve, 5));
      },
      (snapshot) => this.fits(snapshot),
      () => this.readAll(),
    );
  }

  protected tokenAtPosition(rowid: number): Uint8Array | undefined {
    return this.tokenAt.get(rowid);
  }

  /** Synchronous, so no transaction of this connection can begin between the reads. */
  private fits(snapshot: TokenSnapshot): boolean {
    return snapshotFits(snapshot, this.maxRowid.get() ?? 0, (rowid) => this.tokenAt.get(rowid));
  }

  private async readAll(): Promise<{ filter: TokenFilter; watermark: number } | undefined> {
    const target = this.maxRowid.get() ?? 0;
    const filter = new TokenFilter(target);
    for (let from = 0; from < target; from += WARM_UP_SLICE) {
      if (this.closed) return undefined;
      for (const token of this.tokensBetween.iterate(from, Math.min(from + WARM_UP_SLICE, target))) filter.add(token);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return { filter, watermark: target };
  }

  /** Also undefined while a transaction is open on this connection (see above). */
  match(queries: readonly TokenQuery[], now: string, receivedAt?: number): TokenMatchRow[] | undefined {
    if (this.tokens === undefined || this.sqlite.inTransaction) return undefined;
    // A catch-up begun after the request arrived has seen every commit made before it did; a row
    // committed since is concurrent with the request, and either order is a correct answer.
    const tokens = receivedAt !== undefined && this.caughtUpAt >= receivedAt ? this.tokens : this.catchUp();
    const possible = queries.filter((q) => tokens.mayContain(q.token));
    return possible.length === 0 ? [] : this.confirmInReadTransaction(possible, now);
  }

  private confirm(queries: readonly TokenQuery[], now: string): TokenMatchRow[] {
    const out: TokenMatchRow[] = [];
    for (const q of queries) {
      for (const row of this.matchToken.all(q.token, q.type, now)) {
        if (q.epoch !== undefined && q.epoch !== row.t_epoch) continue;
        const { t_type, t_epoch, ...listing } = row;
        out.push({ listing, type: t_type as IdentifierType, epoch: t_epoch, token: q.token });
      }
    }
    return out;
  }

  /** The API key row, with a prepared statement (service/api-keys.ts keeps the cache). */
  apiKey(id: string): ApiKeyTable | undefined {
    return this.apiKeyById.get(id);
  }

  /**
   * SQLite's `PRAGMA data_version`, which changes when another connection (process) commits, read
   * for the API-key check of every request. The same statement reads `max(rowid)` and catches the
   * token filter up, so a check whose request was authenticated this way needs no probe of its own
   * (`match`'s `receivedAt`): each probe is a read transaction, whose file-lock system calls cost
   * more than the statement (4-6 µs quiet, over 10 µs of CPU under load on our machine).
   */
  dataVersion(): number {
    const started = performance.now();
    const [version, max] = this.freshness.get() ?? [0, null];
    if (this.tokens !== undefined && !this.sqlite.inTransaction) {
      this.catchUpTo(this.tokens, max ?? 0);
      this.caughtUpAt = started;
    }
    return version;
  }

  /** Only while no transaction is open on this connection: rowids past the watermark must be committed. */
  private catchUp(): TokenFilter {
    const tokens = this.tokens!;
    const started = performance.now();
    this.catchUpTo(tokens, this.maxRowid.get() ?? 0);
    this.caughtUpAt = started;
    return tokens;
  }

  private catchUpTo(tokens: TokenFilter, max: number): void {
    if (max > this.watermark) {
      for (const token of this.tokensBetween.iterate(this.watermark, max)) tokens.add(token);
      this.watermark = max;
    }
  }
}
