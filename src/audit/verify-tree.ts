/**
 * Recomputes an origin's RFC 9162 Merkle tree from its leaf hashes and compares every perfect
 * subtree it completes with the stored `tree_nodes` row. Those rows are what inclusion and
 * consistency proofs, receipts and peers' syncs are served from (src/store/proofs.ts), so a
 * tampered or missing node would hand out wrong proofs even while the entries are intact.
 *
 * Nodes are compared a batch at a time, one range read per level (src/store/log-batch-reader.ts), so memory is bounded
 * by the batch size. Hashing is the native SHA-256 throughout: about one leaf and one node hash
 * per entry is most of a whole-log verification's hashing.
 *
 * A check can also cover one aligned chunk of the tree (a perfect subtree, which is independent of
 * the rest: verify-chunk.ts), or be fed the roots of such chunks instead of leaves, to complete the
 * levels above them (verify-parallel.ts).
 */
import { bytesEqual } from '../crypto/encoding.js';
import { sha256NativeBinary } from '../crypto/index.js';
import { EMPTY_ROOT } from '../log/merkle.js';
import type { LogBatchReader } from '../store/log-batch-reader.js';
import type { OriginReport } from './verify-report.js';

/**
 * One scratch buffer for the prefixed input of a leaf hash read a row at a time: a fresh
 * concatenation per entry was a visible share of the garbage collected. The hash copies its input,
 * so reusing the buffer is safe; it grows for a larger entry. (Clean batches are read with the
 * prefix already in place: verify-entries.ts.)
 */
let scratch = new Uint8Array(1024);

/**
 * A 32-byte hash as a binary string: one Latin-1 character per byte (`sha256NativeBinary`). The
 * walk over a whole log keeps its leaf and node hashes in this form: a string per hash is cheap
 * where a Buffer per hash was not, a run of them joined compares with a run of stored hashes read
 * as one blob (`storedRun` below, verify-entries.ts), and a string crosses to and from a worker
 * thread as cheaply as a byte array.
 */
export type BinaryHash = string;

export function toBinaryHash(bytes: Uint8Array): BinaryHash {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function fromBinaryHash(hash: BinaryHash): Uint8Array {
  const bytes = Buffer.from(hash, 'latin1');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The RFC 9162 leaf hash SHA-256(0x00 ‖ data), as `leafHash` in src/log/merkle.ts, natively, as a binary string. */
export function leafHashBinary(data: Uint8Array): BinaryHash {
  if (data.length + 1 > scratch.length) scratch = new Uint8Array(Math.max(data.length + 1, scratch.length * 2));
  scratch[0] = 0x00;
  scratch.set(data, 1);
  return sha256NativeBinary(scratch.subarray(0, data.length + 1));
}

/** 0x01 ‖ left ‖ right, written in place for each node hash. */
const nodeInput = Buffer.alloc(65, 0x01);

/** The RFC 9162 node hash SHA-256(0x01 ‖ left ‖ right), as `nodeHash` in src/log/merkle.ts, natively, on binary strings. */
export function nodeHashBinary(left: BinaryHash, right: BinaryHash): BinaryHash {
  nodeInput.write(left, 1, 32, 'latin1');
  nodeInput.write(right, 33, 32, 'latin1');
  return sha256NativeBinary(nodeInput);
}

/** The RFC 9162 root over a compact range's subtree hashes (left to right), as `hashRange`, natively. */
export function rootOf(subtreeHashes: readonly BinaryHash[]): Uint8Array {
  let acc = subtreeHashes[subtreeHashes.length - 1];
  if (acc === undefined) return EMPTY_ROOT;
  for (let i = subtreeHashes.length - 2; i >= 0; i--) acc = nodeHashBinary(subtreeHashes[i]!, acc);
  return fromBinaryHash(acc);
}

/** The subtrees one level completed during a batch: consecutive indices from `first`. */
interface LevelRun {
  first: number;
  hashes: BinaryHash[];
}

/** Number of perfect subtrees (of every level, leaves included) in a tree of `size` leaves. */
export function storedNodeCount(size: number): number {
  let count = 0;
  for (let width = 1; width <= size; width *= 2) count += Math.floor(size / width);
  return count;
}

export interface TreeCheckOptions {
  /** The level of the hashes appended: 0 for leaf hashes, k for the roots of 2^k-leaf chunks. */
  level?: number;
  /** The index, at that level, of the first hash appended. A chunk's index is aligned to its size. */
  begin?: number;
  /** The highest level to complete: a chunk's own root, whose parent lies outside it. */
  top?: number;
}

/** "first,first+1,…,last": consecutive integers as the log batch reader's aggregate rows list seqs and indices. */
export function consecutiveList(first: number, last: number): string {
  let list = String(first);
  for (let i = first + 1; i <= last; i++) list += `,${i}`;
  return list;
}

export class TreeCheck {
  /** Hashes of the perfect subtrees of what was appended (its compact range), left to right. */
  #edge: BinaryHash[] = [];
  #count = 0;
  readonly #level: number;
  readonly #begin: number;
  readonly #top: number;
  /** Indexed by level. */
  #runs: LevelRun[] = [];

  /** `reader` must read inside the read snapshot the verification runs in. */
  constructor(
    private readonly reader: LogBatchReader,
    private readonly origin: string,
    private readonly report: OriginReport,
    options: TreeCheckOptions = {},
  ) {
    this.#level = options.level ?? 0;
    this.#begin = options.begin ?? 0;
    this.#top = options.top ?? Infinity;
  }

  /** The number of hashes appended: leaves, for a tree of leaves. */
  get size(): number {
    return this.#count;
  }

  root(): Uint8Array {
    return rootOf(this.#edge);
  }

  /** The compact range of what was appended (the array is a copy). */
  subtreeHashes(): BinaryHash[] {
    return this.#edge.slice();
  }

  /** Appends a hash and records every subtree it completes, up to the top level, for comparison. */
  append(appended: BinaryHash): void {
    let hash = appended;
    let level = this.#level;
    let index = this.#begin + this.#count;
    this.#record(level, index, hash);
    // A right child (odd index) completes its parent with the left sibling on the right edge.
    while (index % 2 === 1 && level < this.#top) {
      hash = nodeHashBinary(this.#edge.pop()!, hash);
      level++;
      index = (index - 1) / 2;
      this.#record(level, index, hash);
    }
    this.#edge.push(hash);
    this.#count++;
  }

  #record(level: number, index: number, hash: BinaryHash): void {
    const run = this.#runs[level];
    if (run === undefined) this.#runs[level] = { first: index, hashes: [hash] };
    else run.hashes.push(hash);
  }

  /** Compares the nodes completed since the last flush with the stored ones: a read per level, awaited in turn. */
  async flush(): Promise<void> {
    const runs = this.#runs;
    this.#runs = [];
    for (let level = 0; level < runs.length; level++) {
      const run = runs[level];
      if (run === undefined) continue;
      const end = run.first + run.hashes.length;
      // The run's stored nodes as one aggregate row, the common case: one blob instead of a Buffer
      // per node. Indices are unique (the primary key): as many well-formed rows as nodes, all
      // within the run, are one row per index, so the concatenations are equal exactly when every
      // node is. The indices read back prove the order; any other sends the run to the rows below.
      const [count, wellFormed, indices, stored] = await this.reader.treeNodeRun(this.origin, level, run.first, end);
      if (count === run.hashes.length && wellFormed === count && stored !== null && indices === consecutiveList(run.first, end - 1) && toBinaryHash(stored) === run.hashes.join('')) continue;
      const rows = await this.reader.treeNodes(this.origin, level, run.first, end);
      let i = 0;
      for (let k = 0; k < run.hashes.length; k++) {
        const index = run.first + k;
        const row = rows[i];
        if (row === undefined || row[0] !== index) {
          this.fail('tree_node_missing', level, index, 'is missing');
          continue;
        }
        i++;
        if (!bytesEqual(row[1], fromBinaryHash(run.hashes[k]!))) this.fail('tree_node_mismatch', level, index, 'differs from the one recomputed from the entries');
      }
    }
  }

  /** After the last batch of a log of `leaves` entries: no stored node may lie outside the tree. */
  async finish(leaves: number = this.size): Promise<void> {
    await this.flush();
    const stored = await this.reader.treeNodeCount(this.origin);
    const expected = storedNodeCount(leaves);
    if (stored > expected) {
      this.report.fail('tree_node_extra', `${stored - expected} stored tree nodes of ${this.origin} lie outside its tree of ${leaves} leaves`);
    }
  }

  private fail(kind: 'tree_node_missing' | 'tree_node_mismatch', level: number, index: number, what: string): void {
    // The leaf whose append completed the subtree: where the damage shows first in log order.
    const leaf = (index + 1) * 2 ** level - 1;
    const leaves = level === 0 ? `leaf ${leaf}` : `leaves ${index * 2 ** level}–${leaf}`;
    this.report.fail(kind, `tree node ${level}/${index} (${leaves}) of ${this.origin} ${what}`, { index: leaf });
  }
}
