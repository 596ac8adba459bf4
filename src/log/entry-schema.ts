/**
 * The log entry format, version 1 (docs/PROTOCOL.md, "Log entries"): the types, their limits and
 * one strict validator shared by encoding (our own entries) and decoding (peer data).
 * `checkEntry` reads an untrusted value and never throws; it rejects unknown keys and returns a
 * fresh object holding only the fields of the format.
 */
import { isIdentifierType, type IdentifierType } from '../identifiers/types.js';

export const ENTRY_VERSION = 1;
export const MAX_ENTRY_BYTES = 16 * 1024;
export const MAX_TOKENS = 32;
/** Token epochs are numbered 1 to 2^32 − 1, as in the token derivation (src/identifiers/). */
const MIN_EPOCH = 1;
const MAX_EPOCH = 0xffff_ffff;

/** `relisted`: the ban was listed again under a newer token epoch (`jointban import --relist`). */
export const RETRACTION_REASONS = ['appeal_upheld', 'mistaken_identity', 'data_error', 'duplicate', 'relisted', 'other'] as const;
export type RetractionReason = (typeof RETRACTION_REASONS)[number];

export interface TokenRef {
  type: IdentifierType;
  /** The token epoch, 1 ≤ epoch ≤ 2^32 − 1. */
  epoch: number;
  /** 16 bytes as 32 lower-case hex characters. */
  token: string;
}

export interface ListingEntry {
  v: 1;
  kind: 'listing';
  /** Member id of the log this entry belongs to. */
  origin: string;
  /** Position of the entry in the origin's log, from 1. */
  seq: number;
  time: string;
  category: string;
  severity: 'severe';
  bannedAt: string;
  /** null: a permanent ban. */
  banUntil: string | null;
  expiresAt: string;
  /** 'sha256:' + 64 lower-case hex characters, committing to evidence kept at the origin. */
  evidenceDigest?: string;
  tokens: TokenRef[];
}

export interface RetractionEntry {
  v: 1;
  kind: 'retraction';
  origin: string;
  seq: number;
  time: string;
  /** seq of the listing retracted, in the same origin's log (target < seq). */
  target: number;
  reason: RetractionReason;
}

export type LogEntry = ListingEntry | RetractionEntry;

export type CheckEntryResult = { ok: true; entry: LogEntry } | { ok: false; error: string };

const MEMBER_ID_RE = /^[a-z][a-z0-9-]{1,31}$/;
const CATEGORY_RE = /^[a-z][a-z0-9_]{1,63}$/;
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TOKEN_RE = /^[0-9a-f]{32}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

const LISTING_KEYS = new Set(['v', 'kind', 'origin', 'seq', 'time', 'category', 'severity', 'bannedAt', 'banUntil', 'expiresAt', 'evidenceDigest', 'tokens']);
const RETRACTION_KEYS = new Set(['v', 'kind', 'origin', 'seq', 'time', 'target', 'reason']);
const TOKEN_KEYS = new Set(['type', 'epoch', 'token']);
const OPTIONAL_KEYS = new Set(['evidenceDigest']);

export function isMemberId(value: unknown): value is string {
  return typeof value === 'string' && MEMBER_ID_RE.test(value);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two ASCII digits at `i` as a number (the caller has matched TIME_RE). */
const two = (s: string, i: number): number => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;

/**
 * Exactly the `Date.prototype.toISOString()` form, and a date that exists: the string
 * `new Date(Date.parse(value)).toISOString()` gives back unchanged. Checked field by field (a month
 * 01-12, a day of that month in the proleptic Gregorian calendar, 00:00:00 to 23:59:59) rather than
 * by that round trip, which was a large share of decoding every entry of a log.
 */
export function isEntryTime(value: unknown): value is string {
  if (typeof value !== 'string' || !TIME_RE.test(value)) return false;
  const year = two(value, 0) * 100 + two(value, 2);
  const month = two(value, 5);
  const day = two(value, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  return day <= days && two(value, 11) < 24 && two(value, 14) < 60 && two(value, 17) < 60;
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

class EntryError extends Error {}

function fail(message: string): never {
  throw new EntryError(message);
}

function record(value: unknown, what: string, allowed: ReadonlySet<string>): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} must be a JSON object`);
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  for (const key of keys) {
    if (!allowed.has(key)) fail(`${what} has an unknown field`);
  }
  // Every key is allowed and keys are unique, so counting them tells whether one is missing; only
  // then is it looked for, to name it. (Entries are decoded by the million when a log is verified.)
  let optional = 0;
  for (const key of OPTIONAL_KEYS) if (allowed.has(key) && Object.hasOwn(obj, key)) optional++;
  if (keys.length - optional !== requiredCount(allowed)) {
    for (const key of allowed) {
      if (!OPTIONAL_KEYS.has(key) && !Object.hasOwn(obj, key)) fail(`${what} is missing the field "${key}"`);
    }
  }
  return obj;
}

const requiredCounts = new Map<ReadonlySet<string>, number>();

function requiredCount(allowed: ReadonlySet<string>): number {
  let n = requiredCounts.get(allowed);
  if (n === undefined) {
    n = [...allowed].filter((key) => !OPTIONAL_KEYS.has(key)).length;
    requiredCounts.set(allowed, n);
  }
  return n;
}

function time(obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (!isEntryTime(v)) fail(`${key} must be a UTC time in the form YYYY-MM-DDTHH:MM:SS.sssZ`);
  return v;
}

function checkToken(value: unknown, i: number): TokenRef {
  const t = record(value, `tokens[${i}]`, TOKEN_KEYS);
  if (typeof t['type'] !== 'string' || !isIdentifierType(t['type'])) fail(`tokens[${i}].type is not an identifier type`);
  const epoch = t['epoch'];
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < MIN_EPOCH || epoch > MAX_EPOCH) {
    fail(`tokens[${i}].epoch must be an integer from ${MIN_EPOCH} to ${MAX_EPOCH}`);
  }
  if (typeof t['token'] !== 'string' || !TOKEN_RE.test(t['token'])) {
    fail(`tokens[${i}].token must be 32 lower-case hex characters`);
  }
  return { type: t['type'], epoch, token: t['token'] };
}

function checkListing(obj: Record<string, unknown>, common: Pick<ListingEntry, 'v' | 'kind' | 'origin' | 'seq' | 'time'>): ListingEntry {
  if (typeof obj['category'] !== 'string' || !CATEGORY_RE.test(obj['category'])) fail('category is malformed');
  if (obj['severity'] !== 'severe') fail('severity must be "severe"');
  const bannedAt = time(obj, 'bannedAt');
  const banUntil = obj['banUntil'] === null ? null : time(obj, 'banUntil');
  const expiresAt = time(obj, 'expiresAt');
  // Entry times are fixed-width with a four-digit year: their string order is their time order.
  if (banUntil !== null && banUntil <= bannedAt) fail('banUntil must be after bannedAt');
  if (expiresAt <= bannedAt) fail('expiresAt must be after bannedAt');
  const digest = obj['evidenceDigest'];
  if (digest !== undefined && (typeof digest !== 'string' || !DIGEST_RE.test(digest))) {
    fail('evidenceDigest must be "sha256:" and 64 lower-case hex characters');
  }
  const rawTokens = obj['tokens'];
  if (!Array.isArray(rawTokens) || rawTokens.length < 1 || rawTokens.length > MAX_TOKENS) {
    fail(`tokens must be an array of 1 to ${MAX_TOKENS} tokens`);
  }
  const tokens = rawTokens.map((t: unknown, i) => checkToken(t, i));
  // At most MAX_TOKENS: comparing pairs is cheaper than building a set of keys.
  for (let i = 1; i < tokens.length; i++) {
    const a = tokens[i]!;
    for (let j = 0; j < i; j++) {
      const b = tokens[j]!;
      if (a.token === b.token && a.type === b.type && a.epoch === b.epoch) fail('tokens contains a duplicate');
    }
  }
  const entry: ListingEntry = {
    v: common.v,
    kind: common.kind,
    origin: common.origin,
    seq: common.seq,
    time: common.time,
    category: obj['category'],
    severity: 'severe',
    bannedAt,
    banUntil,
    expiresAt,
    tokens,
  };
  if (typeof digest === 'string') entry.evidenceDigest = digest;
  return entry;
}

function checkAny(value: unknown): LogEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('entry must be a JSON object');
  // The version first: a later version may have other fields.
  if ((value as Record<string, unknown>)['v'] !== ENTRY_VERSION) fail(`v must be ${ENTRY_VERSION}`);
  const kind = (value as Record<string, unknown>)['kind'];
  if (kind !== 'listing' && kind !== 'retraction') fail('kind must be "listing" or "retraction"');
  const obj = record(value, 'entry', kind === 'listing' ? LISTING_KEYS : RETRACTION_KEYS);
  if (!isMemberId(obj['origin'])) fail('origin is not a member id');
  if (!isSeq(obj['seq'])) fail('seq must be an integer ≥ 1');
  const common = { v: 1 as const, origin: obj['origin'], seq: obj['seq'], time: time(obj, 'time') };
  if (kind === 'listing') return checkListing(obj, { v: common.v, kind, origin: common.origin, seq: common.seq, time: common.time });
  if (!isSeq(obj['target']) || obj['target'] >= common.seq) fail('target must be the seq of an earlier entry');
  const reason = obj['reason'];
  if (typeof reason !== 'string' || !(RETRACTION_REASONS as readonly string[]).includes(reason)) {
    fail('reason is not a retraction reason');
  }
  return { ...common, kind, target: obj['target'], reason: reason as RetractionReason };
}

/** Validates an untrusted value as a v1 log entry. Never throws. */
export function checkEntry(value: unknown): CheckEntryResult {
  try {
    return { ok: true, entry: checkAny(value) };
  } catch (err) {
    if (err instanceof EntryError) return { ok: false, error: err.message };
    return { ok: false, error: 'entry is malformed' };
  }
}
