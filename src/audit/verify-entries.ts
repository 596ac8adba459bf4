/**
 * The checks of one log entry on its own and against its position, the roster and earlier
 * entries: strict decoding (canonical RFC 8785 bytes), its origin and seq, the stored kind and time
 * columns, suspension at the entry's time, a retraction's target, and the stored leaf hash. Shared
 * by the walk over a whole log (verify.ts) and the walk over one chunk of it (verify-chunk.ts).
 */
import type SQLite from 'better-sqlite3';
import { bytesEqual } from '../crypto/encoding.js';
import { decodeEntry, type ListingEntry, type RetractionEntry } from '../log/entry.js';
// The lookup module alone: the roster package's index loads its signing and editing code, a
// visible share of a worker thread's start-up.
import { entryAllowed } from '../roster/lookup.js';
import type { Roster } from '../roster/schema.js';
import type { IndexSet } from './verify-projection.js';
import type { OriginReport } from './verify-report.js';
import { leafHashNative } from './verify-tree.js';

/** seq, kind, time, bytes, leaf_hash: a raw row, as the prepared statement returns it. */
export type EntryRow = [number, string, string, Uint8Array, Uint8Array];

/** The entry rows of one origin with first ≤ seq ≤ last, in seq order. */
export function entryReader(sqlite: SQLite.Database): SQLite.Statement<[string, number, number], EntryRow> {
  return sqlite.prepare<[string, number, number], EntryRow>('SELECT seq, kind, time, bytes, leaf_hash FROM log_entries WHERE origin = ? AND seq >= ? AND seq <= ? ORDER BY seq').raw();
}

/** What a walk over (part of) one origin's log carries from entry to entry. */
export interface Walk {
  origin: string;
  /** Set when the origin is in the roster: its suspension applies. */
  roster: Roster | undefined;
  report: OriginReport;
  /** Indices of the listing entries seen so far, so a retraction's target can be checked. */
  listingIndices: IndexSet;
  /**
   * The index the walk started at: a retraction whose target lies before it is not checked here but
   * listed in `deferred` (its seq), for whoever holds the earlier part of the log. 0 for a whole log.
   */
  start: number;
  deferred: number[];
  listings: ListingEntry[];
  retractions: RetractionEntry[];
}

/**
 * Checks the entry at leaf index `index`. Returns its leaf hash, computed from the bytes whatever
 * else is wrong with them: the tree is rebuilt from what is stored, so a tampered entry also shows
 * in every root above it.
 */
export function checkEntry(walk: Walk, index: number, row: EntryRow): Uint8Array {
  const { origin, report } = walk;
  const [, kind, time, bytes, storedLeafHash] = row;
  const decoded = decodeEntry(bytes);
  if (!decoded.ok) report.fail('bad_entry', `entry ${index} of ${origin} does not decode: ${decoded.error}`, { index });
  else {
    const entry = decoded.entry;
    if (entry.origin !== origin) report.fail('foreign_origin', `entry ${index} of ${origin}'s log claims origin ${entry.origin}`, { index });
    else if (entry.seq !== index + 1) report.fail('bad_entry', `entry ${index} of ${origin} has seq ${entry.seq}, expected ${index + 1}`, { index });
    else if (entry.kind === 'listing') {
      walk.listingIndices.add(index);
      walk.listings.push(entry);
    } else if (entry.target - 1 < walk.start) {
      walk.deferred.push(entry.target);
      walk.retractions.push(entry);
    } else if (!walk.listingIndices.has(entry.target - 1)) {
      report.fail('bad_entry', `retraction ${index} of ${origin} targets seq ${entry.target}, which is not a listing`, { index });
    } else walk.retractions.push(entry);
    if (kind !== entry.kind || time !== entry.time) report.fail('entry_row_mismatch', `entry ${index} of ${origin}: the stored kind or time differs from the entry bytes`, { index });
    if (walk.roster !== undefined && !entryAllowed(walk.roster, origin, entry.time).ok) {
      report.fail('suspended_member', `entry ${index} of ${origin} is dated ${entry.time}, at or after its suspension`, { index });
    }
  }
  const hash = leafHashNative(bytes);
  if (!bytesEqual(hash, storedLeafHash)) report.fail('leaf_hash_mismatch', `entry ${index} of ${origin}: the stored leaf hash is not the hash of its bytes`, { index });
  return hash;
}
