/**
 * The checks of one log entry on its own and against its position, the roster and earlier
 * entries: strict decoding (canonical RFC 8785 bytes), the rules of a log (log/validate.ts, the
 * module sync ingest and the node's own appends use too: origin, seq, a retraction's target,
 * suspension at the entry's time), the stored kind and time columns, and the stored leaf hash.
 * Shared by the walk over a whole log (verify.ts) and the walk over one chunk of it (verify-chunk.ts).
 */
import { bytesEqual } from '../crypto/encoding.js';
import { sha256NativeBinary } from '../crypto/index.js';
import { decodeEntry, type ListingEntry, type LogEntry, type RetractionEntry } from '../log/entry.js';
// The validation module imports the roster's lookup module alone: the roster package's index loads
// its signing and editing code, a visible share of a worker thread's start-up.
import { checkLogEntry, describeFailure, failureKind, isRosterFailure, type EntryFailure, type LogRules } from '../log/validate.js';
import type { Roster } from '../roster/schema.js';
import type { EntryRow, LogBatchReader } from '../store/log-batch-reader.js';
import { IndexSet } from './verify-projection.js';
import type { OriginReport } from './verify-report.js';
import { consecutiveList, fromBinaryHash, leafHashBinary, toBinaryHash, type BinaryHash } from './verify-tree.js';

/** A batch whose rows are all there and agree with their bytes: the entries decoded, and their leaf hashes. */
export interface CleanBatch {
  entries: LogEntry[];
  leafHashes: BinaryHash[];
}

/**
 * Reads a batch of entry rows as one row of concatenations instead of a row each: a row each
 * materialised two Buffers and two strings per entry, most of a verification's reading and of its
 * garbage (docs/BENCHMARKS.md, "Verification", fourth round). A batch that is anything but clean
 * (a row missing or malformed, bytes that do not decode, a kind, time or leaf hash column that
 * differs from the bytes) is not reported here: `read` answers undefined and the caller walks the
 * batch a row at a time (`LogBatchReader.entryRows`, `checkEntry`), which finds and reports what is wrong exactly
 * as it always has. Nothing is recorded in the walk before a batch is known to be clean.
 */
export class EntryBatchReader {
  /** `reader` reads the aggregate form of a range of entries (`LogBatchReader.entryBatch`): its rows in the one order they were scanned. */
  constructor(private readonly reader: LogBatchReader) {}

  /** The entries with seq first…last when the batch is clean, else undefined (see above). */
  async read(origin: string, first: number, last: number): Promise<CleanBatch | undefined> {
    const [count, wellFormed, seqs, prefixedBytes, lengthList, storedLeafHashes, kindTimes] = await this.reader.entryBatch(origin, first, last);
    const n = last - first + 1;
    if (count !== n || wellFormed !== n || prefixedBytes === null || lengthList === null || storedLeafHashes === null || kindTimes === null) return undefined;
    if (seqs !== consecutiveList(first, last)) return undefined;
    const lengths = lengthList.split(',');
    const entries: LogEntry[] = [];
    const leafHashes: BinaryHash[] = [];
    const expectedKindTimes: string[] = [];
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const length = Number(lengths[i]);
      const bytes = prefixedBytes.subarray(offset + 1, offset + 1 + length);
      leafHashes.push(sha256NativeBinary(prefixedBytes.subarray(offset, offset + 1 + length)));
      offset += 1 + length;
      const decoded = decodeEntry(bytes);
      if (!decoded.ok) return undefined;
      entries.push(decoded.entry);
      // A decoded kind has no space or comma and a decoded time matches TIME_RE (none either), so
      // the joined strings are equal exactly when every row's columns equal its entry's.
      expectedKindTimes.push(`${decoded.entry.kind} ${decoded.entry.time}`);
    }
    if (offset !== prefixedBytes.length) return undefined;
    if (leafHashes.join('') !== toBinaryHash(storedLeafHashes) || expectedKindTimes.join(',') !== kindTimes) return undefined;
    return { entries, leafHashes };
  }
}

/** What a walk over (part of) one origin's log carries from entry to entry. */
export interface Walk {
  origin: string;
  report: OriginReport;
  /** The log's rules (log/validate.ts), their lookup answered from `listingIndices` and `deferred`. */
  rules: LogRules;
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
 * A walk over `origin`'s log from leaf index `start` (0: the whole log). `roster`: set when the
 * origin is in the roster, so its suspension applies (an origin not in it is reported once, not at
 * every entry).
 */
export function newWalk(origin: string, roster: Roster | undefined, report: OriginReport, start = 0): Walk {
  const listingIndices = new IndexSet(start);
  const deferred: number[] = [];
  const isListing = (seq: number): boolean => {
    if (seq - 1 >= start) return listingIndices.has(seq - 1);
    deferred.push(seq);
    return true;
  };
  return { origin, report, rules: { origin, roster, earlier: { isListing } }, listingIndices, start, deferred, listings: [], retractions: [] };
}

/**
 * Checks the entry at leaf index `index` from its row. Returns its leaf hash, computed from the
 * bytes whatever else is wrong with them: the tree is rebuilt from what is stored, so a tampered
 * entry also shows in every root above it.
 */
export function checkEntry(walk: Walk, index: number, row: EntryRow): BinaryHash {
  const { origin, report } = walk;
  const [, kind, time, bytes, storedLeafHash] = row;
  const decoded = decodeEntry(bytes);
  if (!decoded.ok) {
    // Rule 1 of the log's rules: its kind and wording are log/validate.ts's, as for the others.
    const failure: EntryFailure = { code: 'malformed', error: decoded.error };
    report.fail(failureKind(failure), describeFailure(origin, index, failure), { index });
  } else checkDecoded(walk, index, decoded.entry, kind !== decoded.entry.kind || time !== decoded.entry.time);
  const hash = leafHashBinary(bytes);
  if (!bytesEqual(fromBinaryHash(hash), storedLeafHash)) report.fail('leaf_hash_mismatch', `entry ${index} of ${origin}: the stored leaf hash is not the hash of its bytes`, { index });
  return hash;
}

/**
 * The checks of a decoded entry against its position, the roster and earlier entries, shared by
 * the row-at-a-time walk (`checkEntry`) and clean batches (`EntryBatchReader`), whose rows are
 * known to agree with their bytes (`rowDiffers` false). An entry in its place (whatever the roster
 * says of its time) counts for the projection check and, a listing, as a target for later retractions.
 */
export function checkDecoded(walk: Walk, index: number, entry: LogEntry, rowDiffers: boolean): void {
  const { origin, report } = walk;
  const failure = checkLogEntry(walk.rules, index, entry);
  if (failure === undefined || isRosterFailure(failure)) {
    if (entry.kind === 'listing') {
      walk.listingIndices.add(index);
      walk.listings.push(entry);
    } else walk.retractions.push(entry);
  }
  if (failure !== undefined) report.fail(failureKind(failure), describeFailure(origin, index, failure), { index });
  if (rowDiffers) report.fail('entry_row_mismatch', `entry ${index} of ${origin}: the stored kind or time differs from the entry bytes`, { index });
}

/**
 * Walks the entries with seq first…last in order: a clean batch as a whole, else a row at a time.
 * The walk's `listings` and `retractions` then hold this batch's. Hands each entry's leaf hash and
 * stored time to `onLeaf`, and returns how many entries were walked: fewer than the batch when a
 * seq is missing, where the walk stops.
 */
export async function walkEntries(walk: Walk, reads: EntryReads, first: number, last: number, onLeaf: (leafHash: BinaryHash, storedTime: string) => void): Promise<number> {
  walk.listings = [];
  walk.retractions = [];
  const clean = await reads.batches.read(walk.origin, first, last);
  if (clean !== undefined) {
    const { entries, leafHashes } = clean;
    for (let i = 0; i < entries.length; i++) {
      checkDecoded(walk, first - 1 + i, entries[i]!, false);
      onLeaf(leafHashes[i]!, entries[i]!.time);
    }
    return entries.length;
  }
  let expected = first;
  for (const row of await reads.rows.entryRows(walk.origin, first, last)) {
    if (row[0] !== expected) break;
    onLeaf(checkEntry(walk, expected - 1, row), row[2]);
    expected++;
  }
  return expected - first;
}

/** The two ways of reading a batch of entries: clean batches as a whole, the rest a row at a time. */
export interface EntryReads {
  batches: EntryBatchReader;
  rows: LogBatchReader;
}

export function entryReads(reader: LogBatchReader): EntryReads {
  return { batches: new EntryBatchReader(reader), rows: reader };
}
