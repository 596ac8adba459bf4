/**
 * The token index on PostgreSQL (token-index.ts, the port): the same in-memory token filter
 * (token-filter.ts) and snapshot file (token-snapshot.ts) as on SQLite, with `listing_tokens.seq`
 * (migration 0007) as the watermark where SQLite has its rowid.
 *
 * Why `seq` can be followed as a watermark: every transaction that writes `listing_tokens` takes
 * the node's writer lock (connection.ts) before it draws a seq and holds it until after its commit
 * is visible, so seq values become visible in their order: a read that sees seq N sees every row
 * below N (a rolled-back transaction leaves a gap, never a late row). This holds for every process
 * on the database, as long as each writes through the node's driver.
 *
 * Freshness: a check must see every listing committed before its request arrived, whoever wrote it.
 * Each check waits for one catch-up (`seq > watermark`) that began after its request arrived; checks
 * that arrive while one is running share the next one, so under load one query serves many checks.
 * No shortcut through the LISTEN channel `jointban_tokens`: a notification of a commit made before
 * the request may still be on its way, so "nothing heard" proves nothing without a round trip.
 * A possible match is then confirmed by `ListingReader.matchTokens` itself (active, unexpired).
 *
 * Start-up reads the filter from the snapshot when it fits (`snapshotFits`, with seq as the position)
 * or else every token, a seq range at a time, so memory holds one slice of rows.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import { ListingReader, type TokenMatchRow, type TokenQuery } from '../listing-repository.js';
import type { Database } from '../tables.js';
import type { TokenIndex } from '../token-index.js';
import { snapshotFits, snapshotProbePositions, type TokenSnapshot } from '../token-snapshot.js';
import { TokenFilter } from '../token-filter.js';
import { TokenFilterIndex, type TokenSnapshotOptions } from '../token-filter-index.js';
import { classifyPostgresError, type PostgresPool } from './connection.js';

const MAX_SEQ_SQL = 'SELECT coalesce(max(seq), 0) FROM listing_tokens';
const TOKENS_BETWEEN_SQL = 'SELECT token FROM listing_tokens WHERE seq > $1 AND seq <= $2';
const TOKENS_AFTER_SQL = 'SELECT seq, token FROM listing_tokens WHERE seq > $1 ORDER BY seq LIMIT $2';
const TOKENS_AT_SQL = 'SELECT seq, token FROM listing_tokens WHERE seq = ANY($1::bigint[])';

/** A seq range per warm-up query: about this many rows in memory at once. */
const WARM_UP_SLICE = 50_000;
/** Rows per catch-up query; a large import by another process is read in pages of this size. */
const CATCH_UP_PAGE = 10_000;
/** Waits between warm-up attempts while the server is unavailable: doubling up to the last. */
const WARM_UP_RETRY_MS = [250, 500, 1000, 2000, 5000];

export interface PostgresTokenIndexOptions extends TokenSnapshotOptions {
  /** Where a warm-up that waits for the server says so. */
  logger?: Logger | undefined;
}

export class PostgresTokenIndex extends TokenFilterIndex implements TokenIndex {
  private readonly reader: ListingReader;
  /** `performance.now()` when the latest finished catch-up began: the filter holds every row committed before then. */
  private caughtUpAt = -Infinity;
  private running: { startedAt: number; done: Promise<void> } | undefined;
  /** The catch-up that follows the running one, shared by the checks that arrived after it began. */
  private next: Promise<void> | undefined;

  constructor(
    db: Kysely<Database>,
    private readonly pool: PostgresPool,
    private readonly options: PostgresTokenIndexOptions = {},
  ) {
    super(options, 'postgres');
    this.reader = new ListingReader(db);
  }

  /**
   * A server that is unavailable at start (restarting, not yet reachable) delays the warm-up rather
   * than ending it: the node would otherwise never report ready. Other errors end it.
   */
  async warmUp(): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.fill(
          async () => {},
          (snapshot) => this.fits(snapshot),
          () => this.readAll(),
        );
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'unavailable') || this.closed) throw err;
        const wait = WARM_UP_RETRY_MS[Math.min(attempt, WARM_UP_RETRY_MS.length - 1)]!;
        this.options.logger?.warn({ err: err.message, retryInMs: wait }, 'token set warm-up waits for PostgreSQL');
        // In short steps, so a stop does not wait out the whole pause.
        for (let waited = 0; waited < wait && !this.closed; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
        if (this.closed) return false;
      }
    }
  }

  protected async tokenAtPosition(seq: number): Promise<Uint8Array | undefined> {
    return (await this.tokensAt([seq])).get(seq);
  }

  async match(queries: readonly TokenQuery[], now: string, receivedAt?: number): Promise<TokenMatchRow[] | undefined> {
    const tokens = this.tokens;
    if (tokens === undefined) return undefined;
    await this.caughtUpSince(receivedAt ?? performance.now());
    if (this.tokens !== tokens) return undefined;
    const possible = queries.filter((q) => tokens.mayContain(q.token));
    return possible.length === 0 ? [] : this.reader.matchTokens(possible, now);
  }

  /**
   * Resolves once a catch-up that began at or after `since` has finished. A query sent after the
   * request arrived runs on a snapshot taken after it, so it sees every commit made before it.
   */
  private caughtUpSince(since: number): Promise<void> | undefined {
    if (this.caughtUpAt >= since) return undefined;
    const running = this.running;
    if (running === undefined) return this.startCatchUp();
    if (running.startedAt >= since) return running.done;
    this.next ??= running.done
      .catch(() => {})
      .then(() => {
        this.next = undefined;
        return this.startCatchUp();
      });
    return this.next;
  }

  private startCatchUp(): Promise<void> {
    const startedAt = performance.now();
    const done: Promise<void> = this.catchUp()
      .then(() => {
        this.caughtUpAt = Math.max(this.caughtUpAt, startedAt);
      })
      .finally(() => {
        if (this.running?.done === done) this.running = undefined;
      });
    this.running = { startedAt, done };
    return done;
  }

  /** Safe to run beside another: rows are added before the watermark passes them, and it only grows. */
  private async catchUp(): Promise<void> {
    for (;;) {
      const tokens = this.tokens;
      if (tokens === undefined) return;
      const rows = await this.rows<[number, Buffer]>(TOKENS_AFTER_SQL, [this.watermark, CATCH_UP_PAGE], 'jointban_tokens_after');
      for (const [, token] of rows) tokens.add(token);
      const last = rows.at(-1);
      if (last !== undefined) this.watermark = Math.max(this.watermark, last[0]);
      if (rows.length < CATCH_UP_PAGE) return;
    }
  }

  private async fits(snapshot: TokenSnapshot): Promise<boolean> {
    const max = (await this.rows<[number]>(MAX_SEQ_SQL, []))[0]?.[0] ?? 0;
    const w = snapshot.watermark;
    const at = Number.isSafeInteger(w) && w > 0 && w <= max ? await this.tokensAt(snapshotProbePositions(w)) : new Map<number, Uint8Array>();
    return snapshotFits(snapshot, max, (seq) => at.get(seq));
  }

  private async readAll(): Promise<{ filter: TokenFilter; watermark: number } | undefined> {
    const target = (await this.rows<[number]>(MAX_SEQ_SQL, []))[0]?.[0] ?? 0;
    const filter = new TokenFilter(target);
    // Every seq up to `target` was committed when it was read (see above): the ranges miss none.
    for (let from = 0; from < target; from += WARM_UP_SLICE) {
      if (this.closed) return undefined;
      for (const [token] of await this.rows<[Buffer]>(TOKENS_BETWEEN_SQL, [from, Math.min(from + WARM_UP_SLICE, target)], 'jointban_tokens_between')) filter.add(token);
    }
    return { filter, watermark: target };
  }

  private async tokensAt(seqs: readonly number[]): Promise<Map<number, Uint8Array>> {
    const rows = await this.rows<[number, Buffer]>(TOKENS_AT_SQL, [seqs]);
    return new Map(rows.map(([seq, token]) => [seq, token]));
  }

  /** Rows as arrays; a named query is prepared once per pooled connection. */
  private async rows<R extends unknown[]>(text: string, values: unknown[], name?: string): Promise<R[]> {
    try {
      const result = await this.pool.query<R>({ text, values, rowMode: 'array', ...(name === undefined ? {} : { name }) });
      return result.rows;
    } catch (err) {
      throw classifyPostgresError(err);
    }
  }
}
