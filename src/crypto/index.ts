/**
 * The only module that imports @noble/*. Everything else in jointban hashes, signs and verifies
 * through these functions, so the choice of primitives and of verification rules is made once.
 *
 * - SHA-256, HMAC-SHA256 (RFC 2104), HKDF-SHA256 (RFC 5869): @noble/hashes; `sha256Native`, the
 *   same SHA-256 from node:crypto, for bulk rehashing.
 * - Ed25519 (RFC 8032): @noble/ed25519, with @noble/hashes' SHA-512 plugged in so signing and
 *   verifying are synchronous.
 *
 * Verification rule: we verify with `zip215: false`, the strict RFC 8032 / FIPS 186-5 rules
 * (canonical encodings, no small-order public keys). Signatures in jointban are evidence shown to
 * auditors and regulators; the strict rules mean a signature accepted by one conforming verifier is
 * accepted by all of them (Go's crypto/ed25519 accepts a superset, so our strict rejections never
 * flag a signature that Go produced).
 */
import * as ed from '@noble/ed25519';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256, sha512 } from '@noble/hashes/sha2.js';
import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';

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
  const digest = createHash('sha256').update(data).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
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
 * A reusable HMAC-SHA256 keyed once: the inner and outer pad states are computed once and cloned
 * per message, which halves the work on the check hot path.
 */
export function keyedHmacSha256(key: Uint8Array): (message: Uint8Array) => Uint8Array {
  const base = hmac.create(nobleSha256, key);
  return (message) => base.clone().update(message).digest();
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

/** Never throws: a malformed key or signature is simply not valid. */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
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
