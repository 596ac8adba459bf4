/**
 * The rules an entry must satisfy as part of an origin's log (docs/PROTOCOL.md, "Validity of an
 * entry in a log"), beyond those of its own bytes (entry.ts): its origin, its position, its retraction
 * target and its origin's roster period. One module for the three places that decide whether an
 * entry belongs in a log: the node's own appends (service/listings.ts), sync ingest
 * (federation/ingest-commit.ts, where a page is prepared, on the ingest worker or the main thread)
 * and `jointban verify` (audit/verify-entries.ts), so the three cannot disagree (the roster period
 * aside, which a node leaves to its peers on its own appends: see `LogRules.roster`).
 *
 * Pure and synchronous, so it runs on any thread: what a rule needs beyond the entry (whether an
 * earlier entry of the log is a listing) is asked of a lookup the caller passes in, answered from
 * the store (append, ingest) or from the walk so far (verify). A failure is a typed value with a
 * code, never an exception; `failureKind` maps it to the misbehaviour it is recorded as, and
 * `describeFailure` words it, once for all callers.
 */
import { entryAllowed } from '../roster/lookup.js';
import type { Roster } from '../roster/schema.js';
import { decodeEntry, type LogEntry } from './entry.js';
import type { MisbehaviourKind } from './misbehaviour.js';

/** Why an entry does not belong at its place in a log; checked in this order, the first one found. */
export type EntryFailure =
  /** The bytes are not a canonical v1 entry (entry.ts). */
  | { code: 'malformed'; error: string }
  /** The entry names another member's log than the one it is in. */
  | { code: 'foreign_origin'; claimed: string }
  /** The entry's seq is not its leaf index + 1. */
  | { code: 'wrong_seq'; seq: number }
  /** A retraction whose target is not an earlier seq (decoding already refuses it: kept for entries built in memory). */
  | { code: 'target_not_earlier'; target: number }
  /** A retraction whose target is not a listing: a retraction, or an entry that is itself invalid. */
  | { code: 'target_not_listing'; target: number }
  /** The log's origin is not in the roster. */
  | { code: 'unknown_member' }
  /** The entry is dated at or after its origin's suspension. */
  | { code: 'suspended_member'; time: string };

export type EntryFailureCode = EntryFailure['code'];

/** The misbehaviour kinds a failing entry is recorded (and reported by `jointban verify`) as. */
export type EntryMisbehaviour = Extract<MisbehaviourKind, 'bad_entry' | 'foreign_origin' | 'unknown_member' | 'suspended_member'>;

/** What the rules ask about the log before the entry being checked. */
export interface EarlierEntries {
  /**
   * Whether the entry at `seq` (always below the seq of the entry being checked, ≥ 1) is a listing
   * that holds its place in the log (decodes, right origin and seq; a roster failure of its own does
   * not change what it is). A caller that holds that part of the log elsewhere may answer true and
   * check the seq itself later (verify-chunk.ts: a chunk's targets before it).
   */
  isListing(seq: number): boolean;
}

/** The log an entry is checked against. */
export interface LogRules {
  /** Member id of the log. */
  origin: string;
  /**
   * The roster whose members and suspensions apply; undefined when the caller does not check the
   * roster period: `jointban verify` for a log whose origin it already reported unknown once (not
   * again for each entry), and the node's own appends (its peers check them).
   */
  roster: Roster | undefined;
  earlier: EarlierEntries;
}

/** Checks a decoded entry at leaf index `index` (seq index + 1) of the log; undefined when it belongs there. */
export function checkLogEntry(rules: LogRules, index: number, entry: LogEntry): EntryFailure | undefined {
  if (entry.origin !== rules.origin) return { code: 'foreign_origin', claimed: entry.origin };
  if (entry.seq !== index + 1) return { code: 'wrong_seq', seq: entry.seq };
  if (entry.kind === 'retraction') {
    if (entry.target >= entry.seq) return { code: 'target_not_earlier', target: entry.target };
    if (!rules.earlier.isListing(entry.target)) return { code: 'target_not_listing', target: entry.target };
  }
  if (rules.roster !== undefined) {
    const allowed = entryAllowed(rules.roster, rules.origin, entry.time);
    if (!allowed.ok) return allowed.reason === 'suspended' ? { code: 'suspended_member', time: entry.time } : { code: 'unknown_member' };
  }
  return undefined;
}

export type CheckedBytes = { ok: true; entry: LogEntry; failure: EntryFailure | undefined } | { ok: false; failure: EntryFailure };

/**
 * Decodes entry bytes and checks the entry at leaf index `index`: `ok` when they decode (the entry,
 * and its failure if it does not belong there), else the `malformed` failure.
 */
export function checkLogEntryBytes(rules: LogRules, index: number, bytes: Uint8Array): CheckedBytes {
  const decoded = decodeEntry(bytes);
  if (!decoded.ok) return { ok: false, failure: { code: 'malformed', error: decoded.error } };
  return { ok: true, entry: decoded.entry, failure: checkLogEntry(rules, index, decoded.entry) };
}

/**
 * Whether the failure concerns only the roster period: the entry is otherwise in its place (its
 * origin, seq and target are right), so a walk over a stored log still counts it (verify's
 * projection check compares its listings row).
 */
export function isRosterFailure(failure: EntryFailure): boolean {
  return failure.code === 'suspended_member' || failure.code === 'unknown_member';
}

/** A run of consecutive decoded entries starting at leaf index `start`, checked in order. */
export interface EntryRun {
  origin: string;
  roster: Roster | undefined;
  /** Answers for the seqs up to `start` (entries before the run); the run answers for its own. */
  before: EarlierEntries;
  start: number;
  entries: readonly LogEntry[];
}

/**
 * Checks `run.entries[from]` up to (not including) `run.entries[to]`, each against the entries before
 * it: those of the run (which the caller has checked, in order, up to `from`) and, before the run,
 * `run.before`. Returns the first failure and its leaf index, or undefined. Checking a run in
 * slices lets a caller yield between them (the sync ingest does, every 100 entries).
 */
export function checkRun(run: EntryRun, from = 0, to = run.entries.length): { index: number; failure: EntryFailure } | undefined {
  const { start, entries } = run;
  const rules: LogRules = {
    origin: run.origin,
    roster: run.roster,
    earlier: { isListing: (seq) => (seq > start ? entries[seq - 1 - start]?.kind === 'listing' : run.before.isListing(seq)) },
  };
  for (let i = from; i < to; i++) {
    const failure = checkLogEntry(rules, start + i, entries[i]!);
    if (failure !== undefined) return { index: start + i, failure };
  }
  return undefined;
}

/**
 * The seqs at or before leaf index `start` that retractions of a run starting there target: what
 * `run.before` will be asked, so that a caller can read them from its store before the (synchronous)
 * check.
 */
export function targetsBefore(start: number, entries: readonly LogEntry[]): number[] {
  const out: number[] = [];
  for (const e of entries) if (e.kind === 'retraction' && e.target <= start) out.push(e.target);
  return out;
}

/** The misbehaviour kind a failure is recorded as, in sync and in `jointban verify` alike. */
export function failureKind(failure: EntryFailure): EntryMisbehaviour {
  switch (failure.code) {
    case 'foreign_origin':
      return 'foreign_origin';
    case 'unknown_member':
      return 'unknown_member';
    case 'suspended_member':
      return 'suspended_member';
    case 'malformed':
    case 'wrong_seq':
    case 'target_not_earlier':
    case 'target_not_listing':
      return 'bad_entry';
  }
}

/** A one-line description of the failure of the entry at leaf index `index` of `origin`'s log. */
export function describeFailure(origin: string, index: number, failure: EntryFailure): string {
  switch (failure.code) {
    case 'malformed':
      return `entry ${index} of ${origin} is malformed: ${failure.error}`;
    case 'foreign_origin':
      return `entry ${index} of ${origin}'s log claims origin ${failure.claimed}`;
    case 'wrong_seq':
      return `entry ${index} of ${origin} has seq ${failure.seq}, expected ${index + 1}`;
    case 'target_not_earlier':
      return `retraction ${index} of ${origin} targets seq ${failure.target}, which is not an earlier entry`;
    case 'target_not_listing':
      return `retraction ${index} of ${origin} targets seq ${failure.target}, which is not a listing`;
    case 'unknown_member':
      return `entry ${index} comes from ${origin}, which is not in the roster`;
    case 'suspended_member':
      return `entry ${index} of ${origin} is dated ${failure.time}, at or after its suspension`;
  }
}
