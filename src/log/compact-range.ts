/**
 * A compact range (RFC 9162 §2.1 tree, the "compact range" of transparency-dev/merkle): the hashes
 * of the perfect subtrees `perfectSubtrees(0, size)`, i.e. the right edge of the tree. It is all a
 * log needs in memory to append leaves and compute the new root; `append` reports every subtree it
 * completes so the store can persist it and later serve proofs with `hashRange`.
 */
import { HASH_LENGTH, hashRange, nodeHash, perfectSubtrees } from './merkle.js';

/** A perfect subtree that has just been completed, with its hash. */
export interface CompletedNode {
  level: number;
  index: number;
  hash: Uint8Array;
}

export class CompactRange {
  #size: number;
  /** Hashes of perfectSubtrees(0, size), largest (leftmost) first. */
  readonly #hashes: Uint8Array[];

  /**
   * @param size the number of leaves already in the tree.
   * @param subtreeHashes the stored hashes of `perfectSubtrees(0, size)`, left to right.
   * Throws a RangeError when they do not fit together (local data, not peer input).
   * @param hashNodes the RFC 9162 node hash to combine subtrees with: `nodeHash`, or the same
   * function on another SHA-256 implementation (a bulk verifier passes a native one).
   */
  constructor(
    size = 0,
    subtreeHashes: readonly Uint8Array[] = [],
    private readonly hashNodes: (left: Uint8Array, right: Uint8Array) => Uint8Array = nodeHash,
  ) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid tree size ${size}`);
    const expected = perfectSubtrees(0, size).length;
    if (subtreeHashes.length !== expected) {
      throw new RangeError(`a tree of size ${size} has ${expected} right-edge subtrees, got ${subtreeHashes.length}`);
    }
    for (const h of subtreeHashes) {
      if (!(h instanceof Uint8Array) || h.length !== HASH_LENGTH) throw new RangeError('subtree hash must be 32 bytes');
    }
    this.#size = size;
    this.#hashes = subtreeHashes.map((h) => Uint8Array.from(h));
  }

  get size(): number {
    return this.#size;
  }

  /** The current right-edge hashes (copies), in the order the constructor takes them. */
  subtreeHashes(): Uint8Array[] {
    return this.#hashes.map((h) => Uint8Array.from(h));
  }

  /** The RFC 9162 root of the tree; EMPTY_ROOT when it has no leaves. */
  root(): Uint8Array {
    return hashRange(this.#hashes);
  }

  /**
   * Appends one leaf hash and returns every perfect subtree this completes, bottom up: the leaf
   * itself at level 0, then each parent whose right child it completed.
   */
  append(leafHash: Uint8Array): CompletedNode[] {
    if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_LENGTH) {
      throw new RangeError('leaf hash must be 32 bytes');
    }
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('tree is full');
    let hash: Uint8Array = Uint8Array.from(leafHash);
    let level = 0;
    let index = this.#size;
    const completed: CompletedNode[] = [{ level, index, hash }];
    // A right child (odd index) completes its parent with the left sibling on the right edge.
    while (index % 2 === 1) {
      const left = this.#hashes.pop() as Uint8Array;
      hash = this.hashNodes(left, hash);
      level++;
      index = (index - 1) / 2;
      completed.push({ level, index, hash });
    }
    this.#hashes.push(hash);
    this.#size++;
    return completed;
  }
}
