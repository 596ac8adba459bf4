/**
 * Log entries and their canonical bytes (docs/PROTOCOL.md, "Log entries"). An entry is JSON in the
 * RFC 8785 JSON Canonicalization Scheme, UTF-8 encoded; those bytes are the Merkle leaf data
 * (RFC 9162 §2.1.1) and are stored and served as received, never re-serialised.
 *
 * `decodeEntry` parses peer data: it caps the size and nesting before JSON.parse, validates every
 * field strictly (unknown keys rejected), and accepts only the one canonical byte form of an entry.
 * It returns a typed failure and never throws.
 */
import { fromUtf8, utf8, bytesEqual } from '../crypto/encoding.js';
import { MAX_ENTRY_BYTES, checkEntry, isMemberId, type LogEntry } from './entry-schema.js';

export * from './entry-schema.js';

/** Entries nest at most object → tokens array → token object. */
const MAX_NESTING = 3;

export type DecodeEntryResult = { ok: true; entry: LogEntry } | { ok: false; error: string };

const q = JSON.stringify;

/**
 * RFC 8785 text of an entry that `checkEntry` accepted, written out directly: the keys in the
 * scheme's order (UTF-16 code units), integers as JSON numbers, and strings through JSON.stringify,
 * which is the scheme's own string serialisation (every string of a checked entry is ASCII by its
 * pattern, so none needs an escape). Only the fields of the format are written, so stray runtime
 * properties never reach the bytes. The `canonicalize` package gave the same text at a tenth of a
 * sync's time; test/unit/log/entry.test.ts holds the two equal on generated entries.
 */
function canonicalText(entry: LogEntry): string {
  if (entry.kind === 'retraction') {
    return `{"kind":"retraction","origin":${q(entry.origin)},"reason":${q(entry.reason)},"seq":${entry.seq},"target":${entry.target},"time":${q(entry.time)},"v":${entry.v}}`;
  }
  let tokens = '';
  for (const t of entry.tokens) tokens += `${tokens === '' ? '' : ','}{"epoch":${t.epoch},"token":${q(t.token)},"type":${q(t.type)}}`;
  const digest = entry.evidenceDigest !== undefined ? `"evidenceDigest":${q(entry.evidenceDigest)},` : '';
  return (
    `{"banUntil":${entry.banUntil === null ? 'null' : q(entry.banUntil)},"bannedAt":${q(entry.bannedAt)},"category":${q(entry.category)},${digest}` +
    `"expiresAt":${q(entry.expiresAt)},"kind":"listing","origin":${q(entry.origin)},"seq":${entry.seq},"severity":${q(entry.severity)},` +
    `"time":${q(entry.time)},"tokens":[${tokens}],"v":${entry.v}}`
  );
}

function canonicalBytes(entry: LogEntry): Uint8Array {
  return utf8(canonicalText(entry));
}

/**
 * The canonical bytes of an entry (UTF-8 of its RFC 8785 JSON). Throws a TypeError for an entry
 * that `decodeEntry` would reject, so a node never appends an entry its peers refuse.
 */
export function encodeEntry(entry: LogEntry): Uint8Array {
  const checked = checkEntry(entry);
  if (!checked.ok) throw new TypeError(`invalid log entry: ${checked.error}`);
  return canonicalBytes(checked.entry);
}

/** Cheap structural pre-check before JSON.parse: bracket depth outside strings. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Parses and validates entry bytes from any source. Never throws. */
export function decodeEntry(bytes: Uint8Array): DecodeEntryResult {
  if (!(bytes instanceof Uint8Array)) return { ok: false, error: 'entry must be bytes' };
  if (bytes.length === 0) return { ok: false, error: 'entry is empty' };
  if (bytes.length > MAX_ENTRY_BYTES) return { ok: false, error: `entry exceeds ${MAX_ENTRY_BYTES} bytes` };
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    return { ok: false, error: 'entry is not valid UTF-8' };
  }
  if (nestingDepth(text) > MAX_NESTING) return { ok: false, error: 'entry JSON is nested too deeply' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'entry is not valid JSON' };
  }
  const checked = checkEntry(value);
  if (!checked.ok) return checked;
  let canonical: Uint8Array;
  try {
    canonical = canonicalBytes(checked.entry);
  } catch {
    return { ok: false, error: 'entry cannot be canonicalised' };
  }
  if (!bytesEqual(canonical, bytes)) return { ok: false, error: 'entry is not in canonical form (RFC 8785)' };
  return { ok: true, entry: checked.entry };
}

const SEQ_RE = /^[1-9][0-9]{0,15}$/;

/** The listing id `${origin}:${seq}` used in the API and in retractions' references. */
export function listingId(origin: string, seq: number): string {
  return `${origin}:${seq}`;
}

export type ParseListingIdResult = { ok: true; origin: string; seq: number } | { ok: false; error: string };

export function parseListingId(id: string): ParseListingIdResult {
  if (typeof id !== 'string' || id.length > 64) return { ok: false, error: 'listing id is malformed' };
  const colon = id.indexOf(':');
  if (colon < 0) return { ok: false, error: 'listing id must be <origin>:<seq>' };
  const origin = id.slice(0, colon);
  const seqText = id.slice(colon + 1);
  if (!isMemberId(origin)) return { ok: false, error: 'listing id has an invalid origin' };
  if (!SEQ_RE.test(seqText)) return { ok: false, error: 'listing id has an invalid seq' };
  const seq = Number(seqText);
  if (!Number.isSafeInteger(seq)) return { ok: false, error: 'listing id has an invalid seq' };
  return { ok: true, origin, seq };
}
