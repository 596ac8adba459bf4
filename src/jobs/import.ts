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
 *
 * The reading, batching, counting, rejects, progress and status are the row-job harness's
 * (row-job.ts); this file is what the import does with one batch.
 */
import type { AppError } from '../errors.js';
import type { TokenResult } from '../service/tokenizer.js';
import type { ListingService, PreparedListing } from '../service/listings.js';
import { banOf } from '../service/reconnect.js';
import type { ImportStatusRecorder } from './import-status.js';
import type { RejectsFile } from './output.js';
import type { Progress } from './progress.js';
import { refusal, runRowJob, type Outcome, type RowJob, type RowJobStatus, type RowJobTotals } from './row-job.js';
import type { RowSource } from './row-source.js';
import { listingFromRow, type ImportListing, type RowRules } from './rows.js';
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

type ImportListings = Pick<ListingService, 'prepareListing' | 'appendPrepared' | 'listedReferences' | 'hasUnreferenced' | 'unreferencedMatches' | 'attachReferences'>;

export interface ImportOptions {
  source: RowSource;
  listings: ImportListings;
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

/** Skipped rows are counted apart from the reconnected ones, which are skipped too. */
type ImportOutcome = 'listed' | 'skipped' | 'reconnected';

function importTotals(t: RowJobTotals<ImportOutcome>): ImportTotals {
  return { rows: t.rows, listed: t.counts.listed, skipped: t.counts.skipped + t.counts.reconnected, rejected: t.rejected };
}

/** The import as a row job: a batch is looked up, tokenised, checked and written as one. */
function importJob(listings: ImportListings, rules: RowRules, tokens: ImportOptions['tokens']): RowJob<ImportListing, ImportOutcome> {
  let reconnectable: boolean | undefined;
  return {
    outcomes: ['listed', 'skipped', 'reconnected'],
    parse: (row) => listingFromRow(row, rules),
    progressParts: (totals) => {
      const t = importTotals(totals);
      return [
        ['listed', t.listed],
        ['skipped', t.skipped],
        ['rejected', t.rejected],
      ];
    },
    async handle(batch) {
      const outcomes: Outcome<ImportOutcome>[] = new Array(batch.length);
      // The reference lookup comes first, so a re-run does not tokenise the rows it skips.
      const listed = await listings.listedReferences(batch.map((l) => l.reference));
      // Rows whose reference repeats within the batch are tokenised too: which copy claims the
      // reference is only known once the earlier ones are prepared.
      const toTokenise = batch.filter((l) => !listed.has(l.reference));
      const pooled = tokens ? await tokens.tokensForListings(toTokenise.map((l) => l.identifiers)) : undefined;
      const tokensOf = new Map<ImportListing, TokenResult>();
      if (pooled) toTokenise.forEach((l, i) => tokensOf.set(l, pooled[i]!));
      const claimed = new Set<string>();
      const ready: { at: number; prepared: PreparedListing; bannedAtGiven: boolean }[] = [];
      for (const [at, listing] of batch.entries()) {
        if (listed.has(listing.reference) || claimed.has(listing.reference)) {
          outcomes[at] = 'skipped';
          continue;
        }
        let prepared: PreparedListing;
        try {
          prepared = listings.prepareListing(listing, tokensOf.get(listing));
        } catch (err) {
          outcomes[at] = refusal(err);
          continue;
        }
        outcomes[at] = 'listed';
        // Only a valid row claims its reference: a rejected first copy leaves the next one its chance.
        claimed.add(listing.reference);
        ready.push({ at, prepared, bannedAtGiven: listing.bannedAt !== undefined });
      }
      // Asked once per run: the import's own listings all carry references, so a node with no
      // listing to reconnect to at the start has none later either, and skips the lookup per batch.
      reconnectable ??= await listings.hasUnreferenced();
      const matches = reconnectable ? await listings.unreferencedMatches(ready.map((r) => banOf(r.prepared.entry, r.bannedAtGiven))) : ready.map(() => undefined);
      const attach = ready.flatMap((r, i) => (matches[i] !== undefined ? [{ id: matches[i], reference: r.prepared.reference! }] : []));
      await listings.attachReferences(attach);
      await listings.appendPrepared(ready.filter((_, i) => matches[i] === undefined).map((r) => r.prepared));
      ready.forEach((r, i) => {
        if (matches[i] !== undefined) outcomes[r.at] = 'reconnected';
      });
      return outcomes;
    },
  };
}

export async function runImport(options: ImportOptions): Promise<ImportResult> {
  const recorder = options.status;
  const status: RowJobStatus<ImportOutcome> | undefined = recorder && {
    start: () => recorder.start(),
    update: (t) => recorder.update(importTotals(t)),
    finish: (t, interrupted) => recorder.finish(importTotals(t), interrupted),
  };
  const result = await runRowJob(importJob(options.listings, options.rules, options.tokens), { ...options, status });
  return { ...importTotals(result), reconnected: result.counts.reconnected, interrupted: result.interrupted, error: result.error };
}
