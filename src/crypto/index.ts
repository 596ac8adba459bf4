/**
 * The only module that imports @noble/*. Everything else in jointban hashes, signs and verifies
 * through these functions, so the choice of primitives and of verification rules is made once.
 *
 * - SHA-256, HMAC-SHA256 (RFC 2104), HKDF-SHA256 (RFC 5869): @noble/hashes; `sha256Native`, the
 *   same function from node:crypto, for bulk rehashing.
 * - Ed25519 (RFC 8032): @noble/ed25519, with @noble/hashes' SHA-512 plugged in so signing and
 *   verifying are synchronous.
 *
 * Verification rule: we verify with `zip215: false`, the strict RFC 8032 / FIPS 186-5 rules
 * (canonical encodings, no small-order public keys). Signatures in jointban are evidence shown to
 * auditors and regulators; the strict rules mean a signature accepted by one conforming verifier is
 * accepted by all of them (Go's crypto/ed25519 accepts a superset, so our strict rejections never
 * flag a signature that Go produced).
 *
 * Verification speed: OpenSSL's Ed25519 (node:crypto) is an order of magnitude faster than noble,
 * which matters when a whole log's checkpoints are re-verified, but its rules differ (it checks
 * the cofactorless equation and compares R's bytes). `ed25519Verify` therefore accepts a signature
 * on OpenSSL's word only when noble-strict provably accepts it too, and asks noble otherwise; see
 * there. The accepted set is exactly noble-strict's (test/unit/crypto/ed25519-verify.test.ts).
 * `ed25519VerifyOpenSsl` never asks noble: for peer request signatures, where a failed check must be
 * cheap because anyone can send one (docs/SECURITY.md, "Junk signatures under a member's key id").
 */
import * as ed from '@noble/ed25519';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256, sha512 } from '@noble/hashes/sha2.js';
import { createPublicKey, hash as nodeHash, randomBytes as nodeRandomBytes, timingSafeEqual, verify as nodeVerify, type KeyObject } from 'node:crypto';

ed.hashes.sha512 = sha512;

export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SECRET_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/**
 * The same SHA-256 through Node's OpenSSL binding: several times faster than the JavaScript one on
 * the few-hundred-byte inputs of a log's leaves. For bulk work where that shows (the Merkle tree's
 * leaf and node hashes, re-verifying a whole log); everything else keeps `sha256`.
 */
export function sha256Native(data: Uint8Array): Uint8Array {
  // The one-shot crypto.hash: no Hash object per call, which cost as much as the hashing itself.
  const digest = nodeHash('sha256', data, 'buffer');
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/**
 * `sha256Native` with the digest as a binary string, one Latin-1 character per byte. Re-verifying
 * a whole log hashes two or three times per entry, and the Buffer each digest came in (allocated
 * outside V8's heap, then garbage) cost more than the hash itself; a 32-character string is cheap
 * to make and compares with `===` (docs/BENCHMARKS.md, "Verification", fourth round).
 */
export function sha256NativeBinary(data: Uint8Array): string {
  return nodeHash('sha256', data, 'binary');
}

/** A streaming SHA-256 for inputs that arrive in pieces (files, request bodies). */
export function createSha256(): { update(data: Uint8Array): void; digest(): Uint8Array } {
  const h = nobleSha256.create();
  return {
    update: (data) => {
      h.update(data);
    },
    digest: () => h.digest(),
  };
}

export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, message);
}

/**
 * A reusable HMAC-SHA256 keyed once, for the check hot path (three tokens per check): the inner
 * and outer pad states are computed once, and each message is hashed in one scratch instance that
 * the keyed state is copied into, so a short message costs two SHA-256 block compressions and no
 * object creation. About 1.4 µs per token message against 1.9 µs for node:crypto's `createHmac`
 * with an imported key, whose per-call Hmac object dominated (docs/BENCHMARKS.md, issue 6).
 * Not re-entrant, which a synchronous function need not be. Tested to agree with node:crypto.
 */
export function keyedHmacSha256(key: Uint8Array): (message: Uint8Array) => Uint8Array {
  const base = hmac.create(nobleSha256, key);
  const scratch = base.clone();
  return (message) => {
    base._cloneInto(scratch);
    scratch.update(message);
    const out = new Uint8Array(32);
    scratch.digestInto(out);
    return out;
  };
}

export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return hkdf(nobleSha256, ikm, salt, info, length);
}

export interface Ed25519KeyPair {
  /** The 32-byte RFC 8032 private key (seed). */
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export function generateEd25519KeyPair(): Ed25519KeyPair {
  const secretKey = randomBytes(ED25519_SECRET_KEY_LENGTH);
  return { secretKey, publicKey: ed.getPublicKey(secretKey) };
}

export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  return ed.getPublicKey(secretKey);
}

export function ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return ed.sign(message, secretKey);
}

/** The order L of the prime-order subgroup (RFC 8032 §5.1). */
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4): the 32 key bytes follow. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** Keys checked so far (a node knows a handful: its roster's), bounded all the same. */
const MAX_CACHED_KEYS = 1024;
/** A key noble-strict accepts, with its OpenSSL key object when OpenSSL could import it. */
type StrictKey = { accepted: true; openssl: KeyObject | undefined } | { accepted: false };
const strictKeys = new Map<string, StrictKey>();

/**
 * Whether noble-strict accepts the public key as a key: a canonical encoding of a curve point that
 * is not of small order (otherwise it rejects every signature under it). Checked once per key, with
 * noble's own decoder.
 */
function strictKey(publicKey: Uint8Array): StrictKey {
  const id = Buffer.from(publicKey).toString('hex');
  const cached = strictKeys.get(id);
  if (cached !== undefined) return cached;
  let checked: StrictKey;
  try {
    checked = ed.Point.fromBytes(publicKey, false).isSmallOrder() ? { accepted: false } : { accepted: true, openssl: opensslKey(publicKey) };
  } catch {
    checked = { accepted: false };
  }
  if (strictKeys.size >= MAX_CACHED_KEYS) strictKeys.clear();
  strictKeys.set(id, checked);
  return checked;
}

function opensslKey(publicKey: Uint8Array): KeyObject | undefined {
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

function isCanonicalScalar(signature: Uint8Array): boolean {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
  return s < GROUP_ORDER;
}

let slowVerifications = 0;

/**
 * How many verifications reached the JavaScript verifier (about 2 ms each, against tens of µs for
 * OpenSSL) since the process started: tests count them to show a path stays off it.
 */
export function ed25519SlowVerifications(): number {
  return slowVerifications;
}

function nobleStrictVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  slowVerifications++;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * Never throws: a malformed key or signature is simply not valid. Accepts exactly what noble's
 * strict verification accepts, faster:
 *
 * - If noble-strict rejects the key (non-canonical, not on the curve, small order) or S ≥ L, it
 *   rejects every signature: so do we, without OpenSSL.
 * - Otherwise, if OpenSSL accepts, R's bytes are the canonical encoding of [S]B − [k]A, with
 *   k = SHA-512(R ‖ A ‖ M) over the very bytes given, so R decodes (canonically) to exactly that
 *   point and noble's cofactored equation [8]([S]B − R − [k]A) = 0 holds: noble-strict accepts.
 * - If OpenSSL rejects, noble decides: the cofactored equation accepts some signatures with a
 *   small-order component in R that OpenSSL's cofactorless one refuses. Only invalid or crafted
 *   signatures take this slower path.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  const key = strictKey(publicKey);
  if (!key.accepted || !isCanonicalScalar(signature)) return false;
  try {
    if (key.openssl !== undefined && nodeVerify(null, message, key.openssl, signature)) return true;
  } catch {
    // An OpenSSL error is not a verdict: noble decides below.
  }
  return nobleStrictVerify(publicKey, message, signature);
}

/**
 * Never throws. Accepts a subset of what `ed25519Verify` accepts, and only on OpenSSL's word: the
 * same strict key and S < L checks, then OpenSSL's cofactorless equation [S]B = R + [k]A with R
 * compared as bytes (RFC 8032 §5.1.7 allows a verifier either equation). It refuses the crafted
 * signatures with a small-order component in R that the cofactored equation lets through; no
 * RFC 8032 signer produces those, so every honest signature passes. Never calls the JavaScript
 * verifier, so a failed check costs what OpenSSL's does.
 */
export function ed25519VerifyOpenSsl(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  const key = strictKey(publicKey);
  if (!key.accepted || key.openssl === undefined || !isCanonicalScalar(signature)) return false;
  try {
    return nodeVerify(null, message, key.openssl, signature);
  } catch {
    return false;
  }
}

export function randomBytes(length: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(length));
}

/** Constant-time comparison, for secrets such as API key hashes. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
