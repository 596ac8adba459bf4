/**
 * Bulk import of a platform's existing bans (docs/IMPORT.md). Rows are read as a stream, checked
 * one by one, and listed in batches, each batch one transaction (ListingService.appendPrepared). A
 * row that fails any check goes to the rejects file and never into a batch, so one bad row costs
 * only itself.
 *
 * Idempotent by `reference`: a row whose reference one of this node's own listings already carries
 * (active, retracted or expired) is skipped, so a re-run after a crash or a fix lists only what is
 * missing, and a ban retracted after an appeal is not listed again. Within a file the first valid
 * row of a reference wins. A valid row whose ban is already listed without a reference (fetched
 * back from peers after a restore: service/reconnect.ts) is reconnected, its reference recorded on
 * that listing, and counted as skipped: the ban is not listed twice.
 *
 * Memory holds two batches of rows and the reader's buffer. Duplicates are found through the
 * database, one query per batch (each batch is written before the next one's references are looked
 * up), not through a set that grows with the file.
 *
 * With a TokenPool the rows of a batch are tokenised on worker threads while the main thread reads
 * the next batch; batches are still looked up, checked and written one after another, in order.
 */
import { AppError } from '../errors.js';
import type { RejectsFile } from './output.js';
import type { Progress, ProgressSnapshot } from './progress.js';
import type { ImportStatusRecorder } from './import-status.js';
import { listingFromRow, type ImportListing, type RowRules } from './rows.js';
import { banOf } from '../service/reconnect.js';
import { eachRow, type RowSource, type SourceRow } from './row-source.js';
import type { ListingService, PreparedListing } from '../service/listings.js';
import type { TokenResult } from '../service/identifiers.js';
import type { TokenPool } from './token-pool.js';

export const DEFAULT_BATCH_SIZE = 1000;

export interface ImportTotals {
  /** Rows read (blank lines and the CSV header are not rows). */
  rows: number;
  listed: number;
  skipped: number;
  rejected: number;
}

export interface ImportResult extends ImportTotals {
  /** Of the skipped rows: those whose reference was recorded on a listing that had none (reconnect.ts). */
  reconnected: number;
  /** Stopped by the signal before the end of the input. */
  interrupted: boolean;
  /** The input broke (e.g. CSV quoting) after `rows` rows; everything before it was handled. */
  error: AppError | undefined;
}

export interface ImportOptions {
  source: RowSource;
  listings: Pick<ListingService, 'prepareListing' | 'appendPrepared' | 'listedReferences' | 'hasUnreferenced' | 'unreferencedMatches' | 'attachReferences'>;
  rules: RowRules;
  rejects: RejectsFile;
  batchSize: number;
  progress?: Progress | undefined;
  /** Stop after the current row; the rows read so far are still written. */
  signal?: AbortSignal | undefined;
  /** Shares the totals with the node's metrics (import-status.ts). */
  status?: ImportStatusRecorder | undefined;
  /** Tokenises on worker threads (token-pool.ts); without it each row is tokenised when prepared. */
  tokens?: Pick<TokenPool, 'tokensForListings'> | undefined;
}

/** A row read and not yet handled: a listing to write, or the reason it was refused. */
type Pending = { row: number; listing: ImportListing } | { row: number; reason: string };

export async function runImport(options: ImportOptions): Promise<ImportResult> {
  const { source, listings, rejects, progress } = options;
  const totals: ImportTotals = { rows: 0, listed: 0, skipped: 0, rejected: 0 };
  let reconnected = 0;
  let reconnectable: boolean | undefined;
  const snapshot = (): ProgressSnapshot => ({
    rows: totals.rows,
    bytes: source.bytesRead(),
    parts: [
      ['listed', totals.listed],
      ['skipped', totals.skipped],
      ['rejected', totals.rejected],
    ],
  });
  const reject = async (row: number, reason: string) => {
    totals.rejected++;
    await rejects.add(row, reason);
  };

  // A window of up to batchSize rows, refused ones included, handled in row order: the rejects
  // file stays sorted by row and memory stays bounded even when every row is refused.
  let window: Pending[] = [];
  const handleBatch = async (current: Pending[]) => {
    // The reference lookup comes first, so a re-run does not tokenise the rows it skips.
    const listed = await listings.listedReferences(current.flatMap((p) => ('listing' in p ? [p.listing.reference] : [])));
    // Rows whose reference repeats within the batch are tokenised too: which copy claims the
    // reference is only known once the earlier ones are prepared.
    const toTokenise = current.filter((p): p is Extract<Pending, { listing: ImportListing }> => 'listing' in p && !listed.has(p.listing.reference));
    const pooled = options.tokens ? await options.tokens.tokensForListings(toTokenise.map((p) => p.listing.identifiers)) : undefined;
    const tokensOf = new Map<Pending, TokenResult>();
    if (pooled) toTokenise.forEach((p, i) => tokensOf.set(p, pooled[i]!));
    const claimed = new Set<string>();
    const ready: { prepared: PreparedListing; bannedAtGiven: boolean }[] = [];
    for (const pending of current) {
      if (!('listing' in pending)) {
        await reject(pending.row, pending.reason);
        continue;
      }
      const { row, listing } = pending;
      if (listed.has(listing.reference) || claimed.has(listing.reference)) {
        totals.skipped++;
        continue;
      }
      let prepared: PreparedListing;
      try {
        prepared = listings.prepareListing(listing, tokensOf.get(pending));
      } catch (err) {
        // AppError messages name the field and never the value (identifiers' reasons included).
        if (!(err instanceof AppError)) throw err;
        await reject(row, err.message);
        continue;
      }
      // Only a valid row claims its reference: a rejected first copy leaves the next one its chance.
      claimed.add(listing.reference);
      ready.push({ prepared, bannedAtGiven: listing.bannedAt !== undefined });
    }
    // Asked once per run: the import's own listings all carry references, so a node with no
    // listing to reconnect to at the start has none later either, and skips the lookup per batch.
    reconnectable ??= await listings.hasUnreferenced();
    const matches = reconnectable ? await listings.unreferencedMatches(ready.map((r) => banOf(r.prepared.entry, r.bannedAtGiven))) : ready.map(() => undefined);
    const attach = ready.flatMap((r, i) => (matches[i] !== undefined ? [{ id: matches[i], reference: r.prepared.reference! }] : []));
    const append = ready.filter((_, i) => matches[i] === undefined).map((r) => r.prepared);
    await listings.attachReferences(attach);
    await listings.appendPrepared(append);
    reconnected += attach.length;
    totals.skipped += attach.length;
    totals.listed += append.length;
    progress?.update(snapshot());
    await options.status?.update(totals);
  };

  // The batch in flight: the next one is read meanwhile, and handled only once this one is written.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    await inFlight;
    if (window.length === 0) return;
    const current = window;
    window = [];
    inFlight = handleBatch(current);
    // Awaited by the next flush; until then a failure must not count as unhandled.
    inFlight.catch(() => undefined);
  };

  const handle = async (item: SourceRow) => {
    totals.rows++;
    const parsed = item.ok ? listingFromRow(item, options.rules) : item;
    window.push(parsed.ok ? { row: item.row, listing: parsed.value } : { row: item.row, reason: parsed.reason });
    if (window.length >= options.batchSize) await flush();
  };

  let interrupted = false;
  let error: AppError | undefined;
  await options.status?.start();
  let finished = false;
  try {
    error = await eachRow(source, handle, () => {
      interrupted = options.signal?.aborted === true;
      return interrupted;
    });
    // Rows read before a broken line or an interruption are written too: every row counted in
    // `rows` is then listed, skipped or rejected.
    await flush();
    await inFlight;
    finished = true;
    await options.status?.finish(totals, interrupted || error !== undefined);
  } finally {
    progress?.finish(snapshot());
    // A failure's own error matters more than a status write that fails after it.
    if (!finished) await options.status?.finish(totals, true).catch(() => undefined);
  }
  return { ...totals, reconnected, interrupted, error };
}
