/**
 * The entry decoder and encoder as they were before the fast path (commit 5dafd2c, src/log/entry.ts):
 * JSON.parse, the strict validator, then RFC 8785 re-encoding through the `canonicalize` package and
 * a byte comparison. Kept as the reference the fast decoder must agree with on every input
 * (test/unit/log/entry-reference.test.ts, test/fuzz/entry.test.ts). Not used by src/.
 */
import canonicalize from 'canonicalize';
import { fromUtf8, utf8, bytesEqual } from '../../src/crypto/encoding.js';
import { MAX_ENTRY_BYTES, checkEntry, type LogEntry } from './reference-entry-schema.js';

/** Entries nest at most object → tokens array → token object. */
const MAX_NESTING = 3;

export type DecodeEntryResult = { ok: true; entry: LogEntry } | { ok: false; error: string };

/** Copies only the fields of the format, so stray runtime properties never reach the bytes. */
function toPlain(entry: LogEntry): Record<string, unknown> {
  const common = { v: entry.v, kind: entry.kind, origin: entry.origin, seq: entry.seq, time: entry.time };
  if (entry.kind === 'retraction') return { ...common, target: entry.target, reason: entry.reason };
  const plain: Record<string, unknown> = {
    ...common,
    category: entry.category,
    severity: entry.severity,
    bannedAt: entry.bannedAt,
    banUntil: entry.banUntil,
    expiresAt: entry.expiresAt,
    tokens: entry.tokens.map((t) => ({ type: t.type, epoch: t.epoch, token: t.token })),
  };
  if (entry.evidenceDigest !== undefined) plain['evidenceDigest'] = entry.evidenceDigest;
  return plain;
}

function canonicalBytes(entry: LogEntry): Uint8Array {
  const text = canonicalize(toPlain(entry));
  if (text === undefined) throw new TypeError('entry cannot be canonicalised');
  return utf8(text);
}

/**
 * The canonical bytes of an entry (UTF-8 of its RFC 8785 JSON). Throws a TypeError for an entry
 * that `decodeEntry` would reject, so a node never appends an entry its peers refuse.
 */
export function referenceEncodeEntry(entry: LogEntry): Uint8Array {
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
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Parses and validates entry bytes from any source. Never throws. */
export function referenceDecodeEntry(bytes: Uint8Array): DecodeEntryResult {
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
