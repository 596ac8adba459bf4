/**
 * `jointban import --relist` (docs/OPERATIONS.md, "Key and epoch rotation"): after a new token
 * epoch is added, lists again every ban this node listed without the newest epoch, now under every
 * epoch held (the newest included), then retracts the old listing with reason `relisted`, so peers
 * see one active listing per ban and the old epoch can be retired without the ban lapsing. The new
 * listing carries the old epoch's tokens too and comes first in the log, so no node, whichever
 * epochs it holds, loses the match at the retraction.
 *
 * The node holds no raw identifiers, so they come from the platform's own records: the same file
 * as `jointban import` (same columns, same row parser), matched to listings by `reference`. The
 * new listing copies the old one's category, ban dates, expiry and evidence digest; the file's
 * identifiers must give exactly the old listing's tokens under the old epoch, so a stale or wrong
 * row can never move a ban onto another account.
 *
 * A row whose reference no listing carries is matched to an own listing without a reference by
 * its tokens and ban (service/reconnect.ts: one fetched back from peers after a restore), which
 * then takes the reference and is relisted like the others.
 *
 * Idempotent: a reference whose active listings already carry the newest epoch is counted as
 * current; a run stopped between the new listing and the retraction is completed by the next run
 * (it finds the new listing and retracts the old ones). Rows are handled one at a time: relisting
 * runs once per epoch, and its writes are each one transaction of the listing service.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import { ListingReader } from '../store/listing-repository.js';
import type { Database } from '../store/tables.js';
import type { RejectsFile } from './import-output.js';
import type { Progress, ProgressSnapshot } from './import-progress.js';
import { listingFromRow, type ImportListing, type RowRules } from './import-rows.js';
import { eachRow, type RowSource, type SourceRow } from './import-source.js';
import type { Tokenizer } from './tokenizer.js';
import { statusOf, type ListingService } from './listings.js';
import { tokenKey } from './reconnect.js';

export interface RelistTotals {
  rows: number;
  /** Listed again under the newest epoch, and the old listing retracted. */
  relisted: number;
  /** Already listed under the newest epoch: nothing to do. */
  current: number;
  /** No active listing of this node carries the row's reference. */
  skipped: number;
  rejected: number;
}

export interface RelistResult extends RelistTotals {
  interrupted: boolean;
  error: AppError | undefined;
}

export interface RelistOptions {
  db: Kysely<Database>;
  member: string;
  source: RowSource;
  listings: Pick<ListingService, 'create' | 'retract' | 'unreferencedMatches' | 'attachReferences'>;
  tokenizer: Tokenizer;
  rules: RowRules;
  rejects: RejectsFile;
  now: () => Date;
  progress?: Progress | undefined;
  signal?: AbortSignal | undefined;
}

type Outcome = 'relisted' | 'current' | 'skipped' | { rejected: string };

/** Records the row's reference on the own listing without one that is the row's ban (reconnect.ts), if any. */
async function reconnect(options: RelistOptions, listing: ImportListing): Promise<boolean> {
  const tokens = new Set(options.tokenizer.tokensFor(listing.identifiers).map(tokenKey));
  const [id] = await options.listings.unreferencedMatches([{ tokens, category: listing.category, banUntil: listing.banUntil, bannedAt: listing.bannedAt }]);
  return id !== undefined && (await options.listings.attachReferences([{ id, reference: listing.reference }])) === 1;
}

async function relistOne(options: RelistOptions, listing: ImportListing): Promise<Outcome> {
  const { tokenizer } = options;
  const reader = new ListingReader(options.db);
  const now = options.now();
  const activeOf = async () => (await reader.byReference(options.member, listing.reference)).filter((row) => statusOf(row, now) === 'active');
  let active = await activeOf();
  // A ban listed without this reference (fetched back from peers after a restore) is relisted too.
  if (active.length === 0 && (await reconnect(options, listing))) active = await activeOf();
  if (active.length === 0) return 'skipped';
  const newest = tokenizer.newestEpoch;
  const withTokens = await Promise.all(active.map(async (row) => ({ row, tokens: await reader.tokensOf(row.id) })));
  const old = withTokens.filter((l) => !l.tokens.some((t) => t.epoch === newest));
  if (old.length === 0) return 'current';

  for (const { row, tokens } of old) {
    // A listing of an earlier overlap carries tokens of an epoch retired since: the epochs still
    // held are enough to tell that the row is the account that was listed.
    const epochs = [...new Set(tokens.map((t) => t.epoch))].filter((e) => tokenizer.epochs.includes(e));
    if (epochs.length === 0) return { rejected: `listing ${row.id} was made under epochs this node no longer holds` };
    const held = new Set(tokens.filter((t) => epochs.includes(t.epoch)).map((t) => tokenKey({ type: t.type, epoch: t.epoch, hex: Buffer.from(t.token).toString('hex') })));
    const derived = new Set(tokenizer.tokensFor(listing.identifiers, epochs).map(tokenKey));
    if (held.size !== derived.size || [...held].some((k) => !derived.has(k))) {
      return { rejected: `the identifiers do not give the tokens of listing ${row.id}: the row is not the account that was listed` };
    }
  }
  if (old.length === withTokens.length) {
    const first = old[0]!.row;
    await options.listings.create({
      identifiers: listing.identifiers,
      category: first.category,
      severity: first.severity,
      bannedAt: first.banned_at,
      banUntil: first.ban_until,
      expiresAt: first.expires_at,
      reference: listing.reference,
      ...(first.evidence_digest !== null ? { evidenceDigest: first.evidence_digest } : {}),
    });
  }
  // After the new listing is durable: a crash in between leaves the ban listed twice, never not at all.
  for (const { row } of old) await options.listings.retract(row.id, 'relisted');
  return 'relisted';
}

export async function runRelist(options: RelistOptions): Promise<RelistResult> {
  const { source, rejects, progress } = options;
  const totals: RelistTotals = { rows: 0, relisted: 0, current: 0, skipped: 0, rejected: 0 };
  const snapshot = (): ProgressSnapshot => ({
    rows: totals.rows,
    bytes: source.bytesRead(),
    parts: [
      ['relisted', totals.relisted],
      ['current', totals.current],
      ['skipped', totals.skipped],
      ['rejected', totals.rejected],
    ],
  });
  const reject = async (row: number, reason: string) => {
    totals.rejected++;
    await rejects.add(row, reason);
  };
  const handle = async (item: SourceRow) => {
    totals.rows++;
    const parsed = item.ok ? listingFromRow(item, options.rules) : item;
    if (!parsed.ok) return reject(item.row, parsed.reason);
    let outcome: Outcome;
    try {
      outcome = await relistOne(options, parsed.value);
    } catch (err) {
      // AppError messages name the field and never the value.
      if (!(err instanceof AppError)) throw err;
      return reject(item.row, err.message);
    }
    if (typeof outcome === 'object') await reject(item.row, outcome.rejected);
    else totals[outcome]++;
    if (totals.rows % 1000 === 0) progress?.update(snapshot());
  };

  let interrupted = false;
  let error: AppError | undefined;
  try {
    error = await eachRow(source, handle, () => {
      interrupted = options.signal?.aborted === true;
      return interrupted;
    });
  } finally {
    progress?.finish(snapshot());
  }
  return { ...totals, interrupted, error };
}
