/**
 * Merkle tree hashing and proofs, RFC 9162 §2.1 (the RFC 6962 tree): leaf and node hashes (§2.1.1),
 * inclusion proofs (§2.1.3) and consistency proofs (§2.1.4), plus the storage-facing helpers a log
 * needs to serve proofs from stored hashes of perfect subtrees.
 *
 * Addressing: a perfect subtree `{ level, index }` covers the leaves
 * [index·2^level, (index+1)·2^level). A store keeps the hash of every such subtree it has completed
 * (`CompactRange.append` reports them); any proof element is then the RFC 9162 MTH of a leaf range,
 * computed as `hashRange` over the stored hashes of `perfectSubtrees(start, end)`.
 *
 * Proofs come from peers: the verifiers check every length and size and return false, never throw.
 * Sizes are JavaScript safe integers, so shifts are done with arithmetic, not 32-bit bitwise ops.
 */
import { bytesEqual, concatBytes } from '../crypto/encoding.js';
import { sha256Native } from '../crypto/index.js';

export const HASH_LENGTH = 32;
/** No tree of safe-integer size needs more proof elements than this (2 × 53 levels, rounded up). */
export const MAX_PROOF_LENGTH = 128;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Uint8Array = sha256Native(new Uint8Array(0));

// Node's native SHA-256: a log hashes every leaf and about one node per leaf on each append, and a
// bulk append or sync spent a tenth of its time in the JavaScript SHA-256 (docs/BENCHMARKS.md).
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256Native(concatBytes(LEAF_PREFIX, data));
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256Native(concatBytes(NODE_PREFIX, left, right));
}

/** A perfect subtree: leaves [index·2^level, (index+1)·2^level). */
export interface SubtreeId {
  level: number;
  index: number;
}

/** A half-open range of leaf indices [start, end). */
export interface LeafRange {
  start: number;
  end: number;
}

function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_LENGTH;
}

/** The largest power of two strictly less than n (n ≥ 2), the split point k of RFC 9162. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Decomposes [start, end) into maximal aligned perfect subtrees, left to right. For [0, n) these are
 * the subtrees of the set bits of n, largest first. Throws on invalid bounds (a programming error).
 */
export function perfectSubtrees(start: number, end: number): SubtreeId[] {
  if (!isSize(start) || !isSize(end) || start > end) throw new RangeError(`invalid leaf range [${start}, ${end})`);
  const out: SubtreeId[] = [];
  let pos = start;
  while (pos < end) {
    let width = 1;
    let level = 0;
    while (pos % (width * 2) === 0 && pos + width * 2 <= end) {
      width *= 2;
      level++;
    }
    out.push({ level, index: pos / width });
    pos += width;
  }
  return out;
}

/**
 * Folds the hashes of consecutive perfect subtrees (left to right) from the right: h0 ‖ (h1 ‖ (…)).
 * For a range whose start is a multiple of the smallest power of two ≥ its length — [0, n) and every
 * range the `*ProofRanges` functions return — this is exactly the RFC 9162 MTH of the range.
 */
export function hashRange(subtreeHashes: readonly Uint8Array[]): Uint8Array {
  const last = subtreeHashes[subtreeHashes.length - 1];
  if (last === undefined) return EMPTY_ROOT;
  let acc = last;
  for (let i = subtreeHashes.length - 2; i >= 0; i--) acc = nodeHash(subtreeHashes[i] as Uint8Array, acc);
  return acc;
}

/** The ranges whose MTHs form PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf sibling first. */
export function inclusionProofRanges(index: number, size: number): LeafRange[] {
  if (!isSize(index) || !isSize(size) || index >= size) throw new RangeError(`invalid inclusion (${index}, ${size})`);
  const topDown: LeafRange[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      topDown.push({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      topDown.push({ start: lo, end: lo + k });
      lo += k;
    }
  }
  return topDown.reverse();
}

/**
 * The ranges whose MTHs form PROOF(oldSize, D[0:newSize]) (RFC 9162 §2.1.4.1), in proof order.
 * Empty when oldSize is 0 or equals newSize.
 */
export function consistencyProofRanges(oldSize: number, newSize: number): LeafRange[] {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) {
    throw new RangeError(`invalid consistency (${oldSize}, ${newSize})`);
  }
  if (oldSize === 0 || oldSize === newSize) return [];
  const topDown: LeafRange[] = [];
  let m = oldSize;
  let lo = 0;
  let hi = newSize;
  let complete = true; // RFC 9162's b: the old tree is still the left edge of the current subtree
  while (m !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m <= k) {
      topDown.push({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      topDown.push({ start: lo, end: lo + k });
      m -= k;
      lo += k;
      complete = false;
    }
  }
  if (!complete) topDown.push({ start: lo, end: hi });
  return topDown.reverse();
}

function isPowerOfTwo(n: number): boolean {
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
}

function shiftUntilOddOrZero(fn: number, sn: number): [number, number] {
  while (fn % 2 === 0 && fn !== 0) {
    fn /= 2;
    sn = Math.floor(sn / 2);
  }
  return [fn, sn];
}

function validProof(proof: unknown): proof is readonly Uint8Array[] {
  return Array.isArray(proof) && proof.length <= MAX_PROOF_LENGTH && proof.every(isHash);
}

/** RFC 9162 §2.1.3.2. Returns false for any malformed input. */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!isHash(leaf) || !isHash(root) || !isSize(index) || !isSize(size) || index >= size) return false;
  if (!validProof(proof)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      [fn, sn] = shiftUntilOddOrZero(fn, sn);
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(r, root);
}

/**
 * RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots; an old size of 0 needs an empty
 * proof and the empty root (the empty tree is a prefix of every tree). Returns false for any
 * malformed input.
 */
export function verifyConsistency(oldSize: number, newSize: number, oldRoot: Uint8Array, newRoot: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) return false;
  if (!isHash(oldRoot) || !isHash(newRoot) || !validProof(proof)) return false;
  if (oldSize === 0) return proof.length === 0 && bytesEqual(oldRoot, EMPTY_ROOT);
  if (oldSize === newSize) return proof.length === 0 && bytesEqual(oldRoot, newRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let [fn, sn] = [oldSize - 1, newSize - 1];
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      [fn, sn] = shiftUntilOddOrZero(fn, sn);
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot);
}

// ---- In-memory trees: tests and small trees. Written straight from the RFC's recursive
// definitions, independently of the range functions above, so each checks the other.

function mth(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo] as Uint8Array;
  const k = splitPoint(n);
  return nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/** MTH(D[n]) of the given leaf hashes (RFC 9162 §2.1.1). */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  return mth(leafHashes, 0, leafHashes.length);
}

/** PATH(index, D[n]) over all the given leaf hashes (RFC 9162 §2.1.3.1). */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Uint8Array[] {
  const n = leafHashes.length;
  if (!isSize(index) || index >= n) throw new RangeError(`invalid inclusion (${index}, ${n})`);
  const path = (m: number, lo: number, hi: number): Uint8Array[] => {
    if (hi - lo <= 1) return [];
    const k = splitPoint(hi - lo);
    return m < k ? [...path(m, lo, lo + k), mth(leafHashes, lo + k, hi)] : [...path(m - k, lo + k, hi), mth(leafHashes, lo, lo + k)];
  };
  return path(index, 0, n);
}

/** PROOF(oldSize, D[n]) over all the given leaf hashes (RFC 9162 §2.1.4.1). */
export function consistencyProof(leafHashes: readonly Uint8Array[], oldSize: number): Uint8Array[] {
  const n = leafHashes.length;
  if (!isSize(oldSize) || oldSize > n) throw new RangeError(`invalid consistency (${oldSize}, ${n})`);
  if (oldSize === 0) return [];
  const subproof = (m: number, lo: number, hi: number, b: boolean): Uint8Array[] => {
    if (m === hi - lo) return b ? [] : [mth(leafHashes, lo, hi)];
    const k = splitPoint(hi - lo);
    return m <= k ? [...subproof(m, lo, lo + k, b), mth(leafHashes, lo + k, hi)] : [...subproof(m - k, lo + k, hi, false), mth(leafHashes, lo, lo + k)];
  };
  return subproof(oldSize, 0, n, true);
}
