/**
 * Receipts: offline proof that a listing was published by its origin. A receipt carries the entry
 * bytes, its leaf index, an RFC 9162 inclusion proof and the origin's signed checkpoint; anyone
 * holding the roster (for the origin's public key) can check it without asking any node.
 * Receipts arrive from elsewhere: `verifyReceipt` validates every field and never throws.
 */
import { fromBase64, toBase64 } from '../crypto/encoding.js';
import { logOrigin, openCheckpoint } from './checkpoint.js';
import { decodeEntry, listingId, type LogEntry } from './entry.js';
import { leafHash, MAX_PROOF_LENGTH, verifyInclusion } from './merkle.js';

export const RECEIPT_FORMAT = 'jointban-receipt/v1';

export interface Receipt {
  format: typeof RECEIPT_FORMAT;
  federation: string;
  listingId: string;
  origin: string;
  leafIndex: number;
  treeSize: number;
  /** Base64 of the entry's canonical bytes (the Merkle leaf data). */
  entry: string;
  inclusionProof: string[];
  /** The origin's signed checkpoint note for a tree of `treeSize` leaves. */
  checkpoint: string;
}

export type VerifyReceiptResult = { ok: true; entry: LogEntry } | { ok: false; error: string };

export function buildReceipt(input: { federation: string; origin: string; leafIndex: number; treeSize: number; entry: Uint8Array; proof: Uint8Array[]; checkpoint: string }): Receipt {
  return {
    format: RECEIPT_FORMAT,
    federation: input.federation,
    listingId: listingId(input.origin, input.leafIndex + 1),
    origin: input.origin,
    leafIndex: input.leafIndex,
    treeSize: input.treeSize,
    entry: toBase64(input.entry),
    inclusionProof: input.proof.map(toBase64),
    checkpoint: input.checkpoint,
  };
}

/**
 * Verifies a receipt against the origin's public key. `publicKeyOf` returns undefined for a member
 * the verifier does not know, which fails the receipt.
 */
export function verifyReceipt(value: unknown, publicKeyOf: (member: string) => Uint8Array | undefined): VerifyReceiptResult {
  if (typeof value !== 'object' || value === null) return { ok: false, error: 'receipt is not an object' };
  const r = value as Record<string, unknown>;
  if (r.format !== RECEIPT_FORMAT) return { ok: false, error: `receipt format must be ${RECEIPT_FORMAT}` };
  const { federation, origin, leafIndex, treeSize, entry, inclusionProof, checkpoint } = r;
  if (typeof federation !== 'string' || typeof origin !== 'string' || typeof entry !== 'string' || typeof checkpoint !== 'string') {
    return { ok: false, error: 'receipt fields federation, origin, entry and checkpoint must be strings' };
  }
  if (typeof leafIndex !== 'number' || typeof treeSize !== 'number' || !Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize) || leafIndex < 0 || leafIndex >= treeSize) {
    return { ok: false, error: 'receipt leafIndex and treeSize must be integers with 0 ≤ leafIndex < treeSize' };
  }
  if (!Array.isArray(inclusionProof) || inclusionProof.length > MAX_PROOF_LENGTH) return { ok: false, error: 'receipt inclusionProof must be a list of hashes' };
  const proof: Uint8Array[] = [];
  for (const item of inclusionProof) {
    const bytes = typeof item === 'string' ? fromBase64(item) : undefined;
    if (!bytes || bytes.length !== 32) return { ok: false, error: 'receipt inclusionProof holds a malformed hash' };
    proof.push(bytes);
  }
  const entryBytes = fromBase64(entry);
  if (!entryBytes) return { ok: false, error: 'receipt entry is not base64' };
  const key = publicKeyOf(origin);
  if (!key) return { ok: false, error: `origin ${origin} is not a member known to the verifier` };
  let name: string;
  try {
    name = logOrigin(federation, origin);
  } catch {
    return { ok: false, error: 'receipt federation or origin is malformed' };
  }
  const opened = openCheckpoint(checkpoint, { name, publicKey: key });
  if (!opened.ok) return { ok: false, error: `checkpoint does not verify: ${opened.error}` };
  if (opened.checkpoint.size !== treeSize) return { ok: false, error: 'checkpoint size differs from the receipt treeSize' };
  const decoded = decodeEntry(entryBytes);
  if (!decoded.ok) return { ok: false, error: `entry is malformed: ${decoded.error}` };
  if (decoded.entry.origin !== origin || decoded.entry.seq !== leafIndex + 1) return { ok: false, error: 'entry origin or seq does not match the receipt' };
  if (r.listingId !== listingId(origin, leafIndex + 1)) return { ok: false, error: 'listingId does not match the entry' };
  if (!verifyInclusion(leafHash(entryBytes), leafIndex, treeSize, proof, opened.checkpoint.root)) {
    return { ok: false, error: 'inclusion proof does not lead to the signed root' };
  }
  return { ok: true, entry: decoded.entry };
}
