/**
 * Log entries and their canonical bytes (docs/PROTOCOL.md, "Log entries"). An entry is JSON in the
 * RFC 8785 JSON Canonicalization Scheme, UTF-8 encoded; those bytes are the Merkle leaf data
 * (RFC 9162 §2.1.1) and are stored and served as received, never re-serialised.
 *
 * `decodeEntry` parses peer data: it caps the size and nesting before JSON.parse, validates every
 * field strictly (unknown keys rejected), and accepts only the one canonical byte form of an entry.
 * It returns a typed failure and never throws. The RFC 8785 encoder is written for the entry's one
 * shape rather than general: it is most of the cost of re-verifying a log (`jointban verify`).
 */
import { isAscii } from 'node:buffer';
import { bytesEqual, fromUtf8, utf8 } from '../crypto/encoding.js';
import { MAX_ENTRY_BYTES, checkEntry, isMemberId, type LogEntry } from './entry-schema.js';

export * from './entry-schema.js';

/** Entries nest at most object → tokens array → token object. */
const MAX_NESTING = 3;

export type DecodeEntryResult = { ok: true; entry: LogEntry } | { ok: false; error: string };

/**
 * A JSON string as RFC 8785 §3.2.2.2 writes it. Only for values `checkEntry` accepted: every string
 * field of an entry is restricted to printable ASCII without `"` or a backslash (member ids, categories,
 * times, hex, fixed names), which RFC 8785 writes between quotes as they are.
 */
const str = (s: string): string => `"${s}"`;

/**
 * The RFC 8785 text of a checked entry, written for its one fixed shape: the members in RFC 8785
 * order (sorted by UTF-16 code units), integers as ECMAScript writes them (all are safe integers
 * ≥ 1, so never an exponent, a fraction or -0), no whitespace. Only the fields of the format are
 * written, so stray runtime properties never reach the bytes. Equal to the `canonicalize` package's
 * output on every entry (test/unit/log/entry-reference.test.ts).
 */
function canonicalText(e: LogEntry): string {
  if (e.kind === 'retraction') {
    return `{"kind":"retraction","origin":${str(e.origin)},"reason":${str(e.reason)},"seq":${e.seq},"target":${e.target},"time":${str(e.time)},"v":${e.v}}`;
  }
  let tokens = '';
  for (const t of e.tokens) tokens += `${tokens === '' ? '' : ','}{"epoch":${t.epoch},"token":${str(t.token)},"type":${str(t.type)}}`;
  return (
    `{"banUntil":${e.banUntil === null ? 'null' : str(e.banUntil)},"bannedAt":${str(e.bannedAt)},"category":${str(e.category)},` +
    (e.evidenceDigest !== undefined ? `"evidenceDigest":${str(e.evidenceDigest)},` : '') +
    `"expiresAt":${str(e.expiresAt)},"kind":"listing","origin":${str(e.origin)},"seq":${e.seq},"severity":${str(e.severity)},` +
    `"time":${str(e.time)},"tokens":[${tokens}],"v":${e.v}}`
  );
}

/**
 * The canonical bytes of an entry (UTF-8 of its RFC 8785 JSON). Throws a TypeError for an entry
 * that `decodeEntry` would reject, so a node never appends an entry its peers refuse.
 */
export function encodeEntry(entry: LogEntry): Uint8Array {
  const checked = checkEntry(entry);
  if (!checked.ok) throw new TypeError(`invalid log entry: ${checked.error}`);
  return utf8(canonicalText(checked.entry));
}

/** Cheap structural pre-check before JSON.parse: bracket depth outside strings. */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/**
 * Parses and validates entry bytes from any source. Never throws.
 *
 * This is the hot path of re-verifying a whole log, hence three shortcuts that change nothing in
 * what is accepted or said: ASCII bytes (every canonical entry) are read as Latin-1, which for
 * ASCII is the same text the strict UTF-8 decoder gives; canonical form is checked by comparing
 * that text with the canonical text, which for ASCII bytes is the same as comparing the bytes; and
 * the nesting cap is checked only once an entry has failed. A text that parses, checks and is
 * canonical is the canonical text of a valid entry, whose nesting is within the cap (its strings
 * hold no quote or backslash, so the bracket count below is exact), and JSON.parse itself is not
 * recursive in V8, so parsing before the cap is safe; a failing text is decoded again in the
 * documented order, so that its error is the one that order gives.
 */
export function decodeEntry(bytes: Uint8Array): DecodeEntryResult {
  if (!(bytes instanceof Uint8Array)) return { ok: false, error: 'entry must be bytes' };
  if (bytes.length === 0) return { ok: false, error: 'entry is empty' };
  if (bytes.length > MAX_ENTRY_BYTES) return { ok: false, error: `entry exceeds ${MAX_ENTRY_BYTES} bytes` };
  if (isAscii(bytes)) {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    const decoded = decodeText(text, true, bytes, false);
    return decoded.ok ? decoded : decodeText(text, true, bytes, true);
  }
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    return { ok: false, error: 'entry is not valid UTF-8' };
  }
  return decodeText(text, false, bytes, true);
}

/** The checks of a decoded text; with `nestingFirst`, in the documented order, which gives a failing text its error. */
function decodeText(text: string, ascii: boolean, bytes: Uint8Array, nestingFirst: boolean): DecodeEntryResult {
  if (nestingFirst && nestingDepth(text) > MAX_NESTING) return { ok: false, error: 'entry JSON is nested too deeply' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'entry is not valid JSON' };
  }
  const checked = checkEntry(value);
  if (!checked.ok) return checked;
  const canonical = canonicalText(checked.entry);
  // Non-ASCII bytes are never canonical (the canonical text is ASCII), but say so by comparing.
  if (ascii ? text !== canonical : !bytesEqual(utf8(canonical), bytes)) return { ok: false, error: 'entry is not in canonical form (RFC 8785)' };
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
