/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures (signature type 0x01),
 * in the format of Go's golang.org/x/mod/sumdb/note: text ending in a newline, a blank line, then
 * lines `— <key name> base64(key ID ‖ signature)`. Witness cosignatures (type 0x04,
 * https://c2sp.org/tlog-cosignature) are in cosignature.ts.
 *
 * Notes arrive from peers: `parseNote` and `verifyNote` cap the size and the number of signatures,
 * check every rule of the format, and return a typed failure; they never throw.
 */
import { bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from '../crypto/encoding.js';
import { ED25519_PUBLIC_KEY_LENGTH, ed25519PublicKey, ed25519Sign, ed25519Verify, sha256 } from '../crypto/index.js';

export const MAX_NOTE_BYTES = 1024 * 1024;
export const MAX_NOTE_SIGNATURES = 100;
/** Signature type bytes assigned by C2SP signed-note. */
export const SIG_TYPE_ED25519 = 0x01;
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;

export interface NoteSigner {
  name: string;
  /** 32-byte Ed25519 private key (RFC 8032 seed). */
  secretKey: Uint8Array;
}

export interface NoteVerifier {
  name: string;
  /** 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

export interface NoteSignature {
  name: string;
  /** 4 bytes, big-endian key ID. */
  keyId: Uint8Array;
  /** The signature bytes after the key ID (algorithm specific). */
  signature: Uint8Array;
}

/**
 * How a note's signatures are checked: `ed25519Verify` (noble-strict, cofactored) by default, for
 * notes kept as evidence; `ed25519VerifyOpenSsl` where anyone may send junk and a failure must cost
 * only OpenSSL's check (crypto/index.ts).
 */
export type SignatureCheck = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

export type ParseNoteResult = { ok: true; text: string; signatures: NoteSignature[] } | { ok: false; error: string };
export type VerifyNoteResult = { ok: true; text: string; verifiedBy: string[] } | { ok: false; error: string };

/** Go's unicode.IsSpace set: JS \s plus U+0085 (NEL). */
const SPACE_RE = /[\s\u0085]/u;
const CONTROL_RE = /[\u0000-\u0009\u000b-\u001f]/;
const LONE_SURROGATE_RE = /\p{Surrogate}/u;
const EM_DASH_PREFIX = '\u2014 ';

/** Key names: non-empty, no Unicode spaces, no '+'. */
export function isValidKeyName(name: unknown): name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 1024) return false;
  return !SPACE_RE.test(name) && !name.includes('+') && !LONE_SURROGATE_RE.test(name);
}

function typedKeyId(name: string, type: number, publicKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8(name), new Uint8Array([0x0a, type]), publicKey)).slice(0, 4);
}

/** C2SP key ID of an Ed25519 note key: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[:4]. */
export function keyId(name: string, publicKey: Uint8Array): Uint8Array {
  return typedKeyId(name, SIG_TYPE_ED25519, publicKey);
}

/** C2SP key ID of an Ed25519 cosigner key: SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4]. */
export function cosignerKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  return typedKeyId(name, SIG_TYPE_COSIGNATURE_V1, publicKey);
}

function vkey(name: string, type: number, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new TypeError('invalid key name');
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) throw new TypeError('public key must be 32 bytes');
  const id = typedKeyId(name, type, publicKey);
  return `${name}+${toHex(id)}+${toBase64(concatBytes(new Uint8Array([type]), publicKey))}`;
}

/** Go's note verifier key: `name+<8 hex key ID>+base64(0x01 ‖ public key)`. */
export function verifierKey(name: string, publicKey: Uint8Array): string {
  return vkey(name, SIG_TYPE_ED25519, publicKey);
}

/** A cosigner's verifier key, signature type 0x04 (tlog-cosignature). */
export function cosignerVerifierKey(name: string, publicKey: Uint8Array): string {
  return vkey(name, SIG_TYPE_COSIGNATURE_V1, publicKey);
}

export type ParseVerifierKeyResult = { ok: true; name: string; type: 'ed25519' | 'cosignature/v1'; keyId: Uint8Array; publicKey: Uint8Array } | { ok: false; error: string };

/** Parses a verifier key of type 0x01 or 0x04 and checks its key ID. Never throws. */
export function parseVerifierKey(text: string): ParseVerifierKeyResult {
  if (typeof text !== 'string' || text.length > 2048) return { ok: false, error: 'verifier key is malformed' };
  // The base64 key may itself contain '+': split at the first two only, as Go's note package does.
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) return { ok: false, error: 'verifier key must be name+keyid+key' };
  const name = text.slice(0, first);
  const idHex = text.slice(first + 1, second);
  const keyB64 = text.slice(second + 1);
  if (!isValidKeyName(name)) return { ok: false, error: 'verifier key has an invalid name' };
  const id = idHex.length === 8 ? fromHex(idHex) : undefined;
  if (id === undefined) return { ok: false, error: 'verifier key ID must be 8 lower-case hex digits' };
  const raw = fromBase64(keyB64);
  if (raw === undefined || raw.length !== 1 + ED25519_PUBLIC_KEY_LENGTH) {
    return { ok: false, error: 'verifier key material is malformed' };
  }
  const type = raw[0];
  if (type !== SIG_TYPE_ED25519 && type !== SIG_TYPE_COSIGNATURE_V1) {
    return { ok: false, error: 'verifier key has an unsupported signature type' };
  }
  const publicKey = raw.slice(1);
  if (!bytesEqual(typedKeyId(name, type, publicKey), id)) return { ok: false, error: 'verifier key ID does not match the key' };
  return { ok: true, name, type: type === SIG_TYPE_ED25519 ? 'ed25519' : 'cosignature/v1', keyId: id, publicKey };
}

/** The rules every note text must meet (used when signing our own). */
function textError(text: string): string | undefined {
  if (typeof text !== 'string' || text.length === 0 || !text.endsWith('\n')) return 'note text must end with a newline';
  if (CONTROL_RE.test(text)) return 'note contains a control character';
  if (LONE_SURROGATE_RE.test(text)) return 'note is not valid Unicode';
  return undefined;
}

export function signatureLine(name: string, id: Uint8Array, signature: Uint8Array): string {
  return `${EM_DASH_PREFIX}${name} ${toBase64(concatBytes(id, signature))}\n`;
}

/**
 * Signs a note text with each signer (Ed25519, type 0x01). Throws a TypeError on invalid text or
 * key names: this signs our own data.
 */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  const err = textError(text);
  if (err !== undefined) throw new TypeError(err);
  if (signers.length === 0) throw new TypeError('a note needs at least one signer');
  const message = utf8(text);
  let lines = '';
  for (const s of signers) {
    if (!isValidKeyName(s.name)) throw new TypeError('invalid key name');
    const id = keyId(s.name, ed25519PublicKey(s.secretKey));
    lines += signatureLine(s.name, id, ed25519Sign(s.secretKey, message));
  }
  return `${text}\n${lines}`;
}

/** Splits a signed note into text and signature lines, checking every format rule. Never throws. */
export function parseNote(note: string): ParseNoteResult {
  if (typeof note !== 'string') return { ok: false, error: 'note must be text' };
  if (note.length > MAX_NOTE_BYTES || utf8(note).length > MAX_NOTE_BYTES) {
    return { ok: false, error: `note exceeds ${MAX_NOTE_BYTES} bytes` };
  }
  const err = textError(note);
  if (err !== undefined) return { ok: false, error: err };
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return { ok: false, error: 'note has no blank line before its signatures' };
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) return { ok: false, error: `note has more than ${MAX_NOTE_SIGNATURES} signatures` };
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(EM_DASH_PREFIX)) return { ok: false, error: 'signature line must start with an em dash and a space' };
    const rest = line.slice(EM_DASH_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? '' : rest.slice(0, space);
    if (!isValidKeyName(name)) return { ok: false, error: 'signature line has an invalid key name' };
    const raw = fromBase64(rest.slice(space + 1));
    if (raw === undefined || raw.length < 5) return { ok: false, error: 'signature is not valid base64 of a key ID and signature' };
    signatures.push({ name, keyId: raw.slice(0, 4), signature: raw.slice(4) });
  }
  return { ok: true, text, signatures };
}

/**
 * Verifies a note against trusted Ed25519 keys. Signatures by unknown keys (name and key ID not
 * both matching) are ignored; a signature by a known key that fails rejects the whole note; at least
 * one known signature must verify. Never throws.
 */
export function verifyNote(note: string, verifiers: readonly NoteVerifier[], check: SignatureCheck = ed25519Verify): VerifyNoteResult {
  const parsed = parseNote(note);
  if (!parsed.ok) return parsed;
  const message = utf8(parsed.text);
  const known = verifiers.map((v) => ({ ...v, id: keyId(v.name, v.publicKey) }));
  const verifiedBy: string[] = [];
  for (const sig of parsed.signatures) {
    for (const v of known) {
      if (v.name !== sig.name || !bytesEqual(v.id, sig.keyId)) continue;
      if (!check(v.publicKey, message, sig.signature)) {
        return { ok: false, error: `signature by ${v.name} does not verify` };
      }
      if (!verifiedBy.includes(v.name)) verifiedBy.push(v.name);
    }
  }
  if (verifiedBy.length === 0) return { ok: false, error: 'note has no signature by a known key' };
  return { ok: true, text: parsed.text, verifiedBy };
}
