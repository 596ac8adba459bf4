/**
 * What the crash tests (test/faults/crash*.test.ts) check in a store exactly as a SIGKILL left it,
 * on either engine: every log's seq is 1..n without a gap, nothing is half-present (no listing entry
 * without its listing row and all its tokens, no listing row without its entry, no retraction entry
 * without its effect, and back), and every acknowledged listing is there with the status its
 * acknowledged retraction (if any) gave it. The rows come from the raw SQLite file or, on
 * PostgreSQL, through Kysely (`storeRowsOf`).
 */
import { sql, type Kysely } from 'kysely';
import { bytesEqual } from '../../src/crypto/encoding.js';
import { openCheckpoint } from '../../src/log/checkpoint.js';
import { CompactRange } from '../../src/log/compact-range.js';
import { leafHash } from '../../src/log/merkle.js';
import type { Database } from '../../src/store/tables.js';

export interface EntryRow {
  origin: string;
  seq: number;
  kind: string;
  bytes: Uint8Array;
  leaf_hash: Uint8Array;
}

export interface ListingRowLite {
  id: string;
  origin: string;
  seq: number;
  status: string;
  retraction_seq: number | null;
}

/** The rows the checks read: the log, the listings and how many token rows each listing has. */
export interface StoreRows {
  entries: EntryRow[];
  listings: ListingRowLite[];
  tokenCounts: { listing_id: string; n: number }[];
}

/** An acknowledged write as a crash test records it. */
export interface AckedListing {
  id: string;
  /** The life (start number) in which it was acknowledged. */
  life: number;
  /** 'maybe': a retraction was sent but its answer was lost; either status is then correct. */
  retracted: 'no' | 'yes' | 'maybe';
}

interface DecodedEntry {
  kind: 'listing' | 'retraction';
  origin: string;
  seq: number;
  target?: number;
  tokens?: { type: string; epoch: number; token: string }[];
}

export const STORE_QUERIES = {
  entries: 'SELECT origin, seq, kind, bytes, leaf_hash FROM log_entries ORDER BY origin, seq',
  listings: 'SELECT id, origin, seq, status, retraction_seq FROM listings',
  tokenCounts: 'SELECT listing_id, count(*) AS n FROM listing_tokens GROUP BY listing_id',
} as const;

/** The rows through Kysely, for a store on PostgreSQL (or any handle the node opened). */
export async function storeRowsOf(db: Kysely<Database>): Promise<StoreRows> {
  const [entries, listings, tokenCounts] = await Promise.all([
    sql.raw<EntryRow>(STORE_QUERIES.entries).execute(db),
    sql.raw<ListingRowLite>(STORE_QUERIES.listings).execute(db),
    sql.raw<{ listing_id: string; n: number }>(STORE_QUERIES.tokenCounts).execute(db),
  ]);
  return { entries: entries.rows, listings: listings.rows, tokenCounts: tokenCounts.rows.map((r) => ({ listing_id: r.listing_id, n: Number(r.n) })) };
}

/** Everything wrong with a store's shape: gaps, half-present writes. Empty when sound. */
export function storeProblems(rows: StoreRows): string[] {
  const problems: string[] = [];
  const listings = new Map(rows.listings.map((l) => [l.id, l]));
  const tokenCounts = new Map(rows.tokenCounts.map((r) => [r.listing_id, r.n]));
  const expectedSeq = new Map<string, number>();
  const listingEntries = new Set<string>();
  const retractionOf = new Map<string, number>();
  for (const row of rows.entries) {
    const next = (expectedSeq.get(row.origin) ?? 0) + 1;
    if (row.seq !== next) problems.push(`log ${row.origin}: seq ${row.seq} where ${next} was expected (a gap)`);
    expectedSeq.set(row.origin, row.seq);
    if (!bytesEqual(leafHash(new Uint8Array(row.bytes)), new Uint8Array(row.leaf_hash))) problems.push(`log ${row.origin}: leaf hash of seq ${row.seq} is not the hash of its bytes`);
    const entry = JSON.parse(Buffer.from(row.bytes).toString('utf8')) as DecodedEntry;
    const id = `${row.origin}:${row.seq}`;
    if (entry.kind === 'listing') {
      listingEntries.add(id);
      const listing = listings.get(id);
      if (!listing) problems.push(`entry ${id} is a listing but has no listing row (half-present)`);
      const tokens = tokenCounts.get(id) ?? 0;
      if (tokens !== entry.tokens?.length) problems.push(`listing ${id} has ${tokens} token rows, its entry ${entry.tokens?.length ?? 0} (half-present)`);
    } else {
      const target = `${row.origin}:${entry.target ?? 0}`;
      if (!retractionOf.has(target)) retractionOf.set(target, row.seq);
      if (listings.get(target)?.status !== 'retracted') problems.push(`retraction ${id} of ${target} is in the log but ${target} is not retracted (half-present)`);
    }
  }
  for (const listing of listings.values()) {
    if (!listingEntries.has(listing.id)) problems.push(`listing row ${listing.id} has no listing entry (half-present)`);
    if (listing.status === 'retracted' && retractionOf.get(listing.id) !== listing.retraction_seq) {
      problems.push(`listing ${listing.id} is retracted by seq ${String(listing.retraction_seq)}, but the log's first retraction of it is ${String(retractionOf.get(listing.id))}`);
    }
  }
  for (const [id] of tokenCounts) if (!listings.has(id)) problems.push(`token rows of ${id}, which has no listing row (half-present)`);
  return problems;
}

/** Acknowledged listings missing from a store (its listings' `id, status`) or with the wrong status. */
export function lostAcks(listings: readonly { id: string; status: string }[], acks: Iterable<AckedListing>): string[] {
  const status = new Map(listings.map((r) => [r.id, r.status]));
  const lost: string[] = [];
  for (const ack of acks) {
    const s = status.get(ack.id);
    if (s === undefined) lost.push(`${ack.id} (acknowledged in life ${ack.life}) is missing`);
    else if (ack.retracted === 'yes' && s !== 'retracted') lost.push(`${ack.id}: its retraction was acknowledged, status is ${s}`);
    else if (ack.retracted === 'no' && s !== 'active') lost.push(`${ack.id}: never retracted, status is ${s}`);
  }
  return lost;
}

/** A stored checkpoint: its size, root and the signed note. */
export interface StoredCheckpoint {
  size: number;
  root: Uint8Array;
  note: string;
}

/** The latest checkpoint of `origin` through Kysely, or undefined before the first. */
export async function latestCheckpointOf(db: Kysely<Database>, origin: string): Promise<StoredCheckpoint | undefined> {
  return db.selectFrom('checkpoints').select(['size', 'root', 'note']).where('origin', '=', origin).orderBy('size', 'desc').limit(1).executeTakeFirst();
}

/**
 * Independent of `jointban verify`: rebuilds the origin's tree from its stored entries (in seq
 * order) and checks the latest checkpoint's root and signature against it.
 */
export function ownLogProblems(origin: string, entries: readonly { bytes: Uint8Array }[], cp: StoredCheckpoint | undefined, verifier: { name: string; publicKey: Uint8Array }): string[] {
  // A crash before the first checkpoint was signed leaves none; the restart signs it (checked then).
  if (!cp) return [];
  if (cp.size > entries.length) return [`checkpoint of ${origin} at size ${cp.size} covers more than the ${entries.length} entries stored`];
  const tree = new CompactRange();
  for (const row of entries.slice(0, cp.size)) tree.append(leafHash(new Uint8Array(row.bytes)));
  const problems: string[] = [];
  if (!bytesEqual(tree.root(), new Uint8Array(cp.root))) problems.push(`${origin}: the root of the first ${cp.size} stored entries is not the stored checkpoint root`);
  const opened = openCheckpoint(cp.note, verifier);
  if (!opened.ok) problems.push(`${origin}: the latest checkpoint note does not verify: ${opened.error}`);
  else if (opened.checkpoint.size !== cp.size || !bytesEqual(opened.checkpoint.root, tree.root()))
    problems.push(`${origin}: the signed note says size ${opened.checkpoint.size}, not the recomputed tree`);
  return problems;
}

/** Fails listing every problem in full (an array diff would be cut short), or passes when there is none. */
export function expectNone(problems: readonly unknown[], what: string): void {
  if (problems.length > 0) {
    const lines = problems.slice(0, 20).map((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
    throw new Error(`${what}: ${problems.length} problem(s):\n  ${lines.join('\n  ')}${problems.length > 20 ? '\n  …' : ''}`);
  }
}
