/**
 * Receipts: offline proof that a listing was published by its origin. A receipt carries the entry
 * bytes, its leaf index, an RFC 9162 inclusion proof and the origin's signed checkpoint; anyone
 * holding the roster (for the origin's public key) can check it without asking any node.
 * Receipts arrive from elsewhere: `verifyReceipt` validates every field and never throws.
 */
import { fromBase64, toBase64 } from '../crypto/encoding.js';
import { logOrigin, openCheckpoint, type OpenCheckpointResult } from './checkpoint.js';
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

/**
 * One of the origin's keys with the end of its period (PROTOCOL.md, "Key history"). A receipt
 * carries one entry, not the tree's last, so its time is only a lower bound of the checkpoint's
 * time: a key is refused when that bound is at or after its validUntil (the key was retired before
 * the tree was signed); its start cannot be checked, since a later checkpoint may prove an old entry.
 */
export interface ReceiptKey {
  publicKey: Uint8Array;
  validUntil?: string | undefined;
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
 * Verifies a receipt against the origin's public key, or its keys with their periods.
 * `publicKeyOf` returns undefined for a member the verifier does not know, which fails the receipt.
 */
export function verifyReceipt(value: unknown, publicKeyOf: (member: string) => Uint8Array | readonly ReceiptKey[] | undefined): VerifyReceiptResult {
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
  const found = publicKeyOf(origin);
  const keys: readonly ReceiptKey[] = found === undefined ? [] : found instanceof Uint8Array ? [{ publicKey: found }] : found;
  if (keys.length === 0) return { ok: false, error: `origin ${origin} is not a member known to the verifier` };
  let name: string;
  try {
    name = logOrigin(federation, origin);
  } catch {
    return { ok: false, error: 'receipt federation or origin is malformed' };
  }
  const decoded = decodeEntry(entryBytes);
  let opened: OpenCheckpointResult = { ok: false, error: 'no key of the origin verifies it' };
  let signer: ReceiptKey | undefined;
  for (const key of [...keys].reverse()) {
    opened = openCheckpoint(checkpoint, { name, publicKey: key.publicKey });
    if (opened.ok) {
      signer = key;
      break;
    }
  }
  if (!opened.ok) return { ok: false, error: `checkpoint does not verify: ${opened.error}` };
  if (opened.checkpoint.size !== treeSize) return { ok: false, error: 'checkpoint size differs from the receipt treeSize' };
  if (!decoded.ok) return { ok: false, error: `entry is malformed: ${decoded.error}` };
  const until = signer?.validUntil;
  if (until !== undefined && !(Date.parse(decoded.entry.time) < Date.parse(until))) {
    return { ok: false, error: `checkpoint is signed with a key retired at ${until}, before the entry's time ${decoded.entry.time}` };
  }
  if (decoded.entry.origin !== origin || decoded.entry.seq !== leafIndex + 1) return { ok: false, error: 'entry origin or seq does not match the receipt' };
  if (r.listingId !== listingId(origin, leafIndex + 1)) return { ok: false, error: 'listingId does not match the entry' };
  if (!verifyInclusion(leafHash(entryBytes), leafIndex, treeSize, proof, opened.checkpoint.root)) {
    return { ok: false, error: 'inclusion proof does not lead to the signed root' };
  }
  return { ok: true, entry: decoded.entry };
}
