/**
 * Evidence digests (docs/PROTOCOL.md, "Evidence digests"): the `evidenceDigest` a platform puts on
 * a listing commits to the evidence files it keeps, without revealing them.
 *
 *   file hash = hex(SHA-256(file bytes))
 *   manifest  = "jointban-evidence/v1\n" ‖ for each file hash, sorted: hash ‖ "\n"
 *   digest    = "sha256:" ‖ hex(SHA-256(utf8(manifest)))
 *
 * File names are deliberately not part of it: renaming a file does not break verification, and
 * names, which may contain personal data, are never committed. Pure: hashing reads a stream of
 * chunks handed in by the caller, so a large file is never held in memory whole.
 */
import { toHex, utf8 } from '../crypto/encoding.js';
import { createSha256, sha256 } from '../crypto/index.js';

export const EVIDENCE_FORMAT = 'jointban-evidence/v1';
export const EVIDENCE_DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
const FILE_HASH_PATTERN = /^[0-9a-f]{64}$/;

export interface HashedFile {
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
  bytes: number;
}

/** SHA-256 of a stream of chunks (a file read in pieces). */
export async function hashChunks(chunks: AsyncIterable<Uint8Array>): Promise<HashedFile> {
  const h = createSha256();
  let bytes = 0;
  for await (const chunk of chunks) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: toHex(h.digest()), bytes };
}

/** The manifest text of a set of file hashes (one line per file, a file given twice counts twice). */
export function evidenceManifest(fileHashes: readonly string[]): string {
  if (fileHashes.length === 0) throw new RangeError('evidence needs at least one file');
  for (const h of fileHashes) if (!FILE_HASH_PATTERN.test(h)) throw new TypeError('a file hash must be 64 lower-case hex characters');
  // Sorted by code unit; for lower-case hex this is byte order, the same in every language.
  const sorted = [...fileHashes].sort();
  return `${EVIDENCE_FORMAT}\n${sorted.map((h) => `${h}\n`).join('')}`;
}

export function evidenceDigest(fileHashes: readonly string[]): string {
  return `sha256:${toHex(sha256(utf8(evidenceManifest(fileHashes))))}`;
}

export function isEvidenceDigest(value: unknown): value is string {
  return typeof value === 'string' && EVIDENCE_DIGEST_PATTERN.test(value);
}
