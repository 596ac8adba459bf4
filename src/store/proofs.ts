/**
 * RFC 9162 roots and proofs served from stored subtree hashes: every range a proof needs is
 * decomposed into complete subtrees (stored when their last leaf was appended) and folded, so a
 * proof costs O(log n) row reads however large the log.
 */
import { hashRange, inclusionProofRanges, consistencyProofRanges, perfectSubtrees, type LeafRange } from '../log/merkle.js';
import type { LogReader } from './log-repository.js';

async function rangeHashes(log: LogReader, origin: string, ranges: readonly LeafRange[]): Promise<Uint8Array[]> {
  const refs = ranges.map((r) => perfectSubtrees(r.start, r.end));
  const flat = await log.subtreeHashes(origin, refs.flat());
  let i = 0;
  return refs.map((subtrees) => hashRange(flat.slice(i, (i += subtrees.length))));
}

export async function rootAt(log: LogReader, origin: string, size: number): Promise<Uint8Array> {
  return hashRange(await log.subtreeHashes(origin, perfectSubtrees(0, size)));
}

export function inclusionProofAt(log: LogReader, origin: string, index: number, size: number): Promise<Uint8Array[]> {
  return rangeHashes(log, origin, inclusionProofRanges(index, size));
}

export function consistencyProofAt(log: LogReader, origin: string, oldSize: number, newSize: number): Promise<Uint8Array[]> {
  return rangeHashes(log, origin, consistencyProofRanges(oldSize, newSize));
}
