import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64, utf8 } from '../../../src/crypto/encoding.js';
import {
  CompactRange,
  EMPTY_ROOT,
  consistencyProof,
  consistencyProofRanges,
  hashRange,
  inclusionProof,
  inclusionProofRanges,
  leafHash,
  perfectSubtrees,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
  type LeafRange,
} from '../../../src/log/index.js';
import { b64, goVectors } from './go-vectors.js';

const goLeaves = goVectors.leaves.map((l) => leafHash(b64(l)));
const enc = (hashes: Uint8Array[]): string[] => hashes.map(toBase64);

function flipped(bytes: Uint8Array, i: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[i] = (copy[i] as number) ^ 0x01;
  return copy;
}

/** A node store filled only from CompactRange.append, as the log store is. */
function buildStore(leaves: Uint8Array[]): { range: CompactRange; nodes: Map<string, Uint8Array> } {
  const range = new CompactRange();
  const nodes = new Map<string, Uint8Array>();
  for (const l of leaves) for (const n of range.append(l)) nodes.set(`${n.level}/${n.index}`, n.hash);
  return { range, nodes };
}

function rangeHashes(nodes: Map<string, Uint8Array>, ranges: LeafRange[]): Uint8Array[] {
  return ranges.map((r) =>
    hashRange(
      perfectSubtrees(r.start, r.end).map((id) => {
        const h = nodes.get(`${id.level}/${id.index}`);
        if (h === undefined) throw new Error(`missing node ${id.level}/${id.index}`);
        return h;
      }),
    ),
  );
}

function fakeLeaves(n: number, salt = 0): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => leafHash(utf8(`leaf ${salt} ${i}`)));
}

describe('Go sumdb/tlog vectors (test/vectors/c2sp-tlog-go.json)', () => {
  it('has the empty tree root', () => {
    expect(toBase64(EMPTY_ROOT)).toBe(goVectors.emptyTreeRoot);
    expect(toBase64(rootFromLeafHashes([]))).toBe(goVectors.emptyTreeRoot);
    expect(toBase64(new CompactRange().root())).toBe(goVectors.emptyTreeRoot);
  });

  it.each(goVectors.treeHeads)('reproduces the root of size $size', ({ size, root }) => {
    expect(toBase64(rootFromLeafHashes(goLeaves.slice(0, size)))).toBe(root);
    const { range } = buildStore(goLeaves.slice(0, size));
    expect(toBase64(range.root())).toBe(root);
  });

  it.each(goVectors.inclusion)('reproduces and verifies inclusion of $index in $size', ({ index, size, proof }) => {
    const leaves = goLeaves.slice(0, size);
    const root = rootFromLeafHashes(leaves);
    expect(enc(inclusionProof(leaves, index))).toEqual(proof);
    expect(enc(rangeHashes(buildStore(leaves).nodes, inclusionProofRanges(index, size)))).toEqual(proof);
    expect(verifyInclusion(goLeaves[index] as Uint8Array, index, size, proof.map(b64), root)).toBe(true);
  });

  it.each(goVectors.consistency)('reproduces and verifies consistency $oldSize → $newSize', ({ oldSize, newSize, proof }) => {
    const leaves = goLeaves.slice(0, newSize);
    const oldRoot = rootFromLeafHashes(goLeaves.slice(0, oldSize));
    const newRoot = rootFromLeafHashes(leaves);
    expect(enc(consistencyProof(leaves, oldSize))).toEqual(proof);
    expect(enc(rangeHashes(buildStore(leaves).nodes, consistencyProofRanges(oldSize, newSize)))).toEqual(proof);
    expect(verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof.map(b64))).toBe(true);
  });
});

describe('tampered inclusion proofs are rejected', () => {
  it.each(goVectors.inclusion.filter((v) => v.proof.length > 0))('every byte of $index in $size', ({ index, size, proof }) => {
    const root = rootFromLeafHashes(goLeaves.slice(0, size));
    const path = proof.map(b64);
    const leaf = goLeaves[index] as Uint8Array;
    path.forEach((element, e) => {
      for (let i = 0; i < element.length; i++) {
        const bad = path.map((p, j) => (j === e ? flipped(p, i) : p));
        expect(verifyInclusion(leaf, index, size, bad, root)).toBe(false);
      }
    });
    for (let i = 0; i < 32; i++) {
      expect(verifyInclusion(leaf, index, size, path, flipped(root, i))).toBe(false);
      expect(verifyInclusion(flipped(leaf, i), index, size, path, root)).toBe(false);
    }
    expect(verifyInclusion(leaf, index, size, path.slice(1), root)).toBe(false);
    expect(verifyInclusion(leaf, index, size, [...path, path[0] as Uint8Array], root)).toBe(false);
    expect(verifyInclusion(leaf, index + 1, size, path, root)).toBe(false);
  });
});

describe('tampered consistency proofs are rejected', () => {
  it.each(goVectors.consistency.filter((v) => v.proof.length > 0))('every byte of $oldSize → $newSize', ({ oldSize, newSize, proof }) => {
    const oldRoot = rootFromLeafHashes(goLeaves.slice(0, oldSize));
    const newRoot = rootFromLeafHashes(goLeaves.slice(0, newSize));
    const path = proof.map(b64);
    path.forEach((element, e) => {
      for (let i = 0; i < element.length; i++) {
        const bad = path.map((p, j) => (j === e ? flipped(p, i) : p));
        expect(verifyConsistency(oldSize, newSize, oldRoot, newRoot, bad)).toBe(false);
      }
    });
    for (let i = 0; i < 32; i++) {
      expect(verifyConsistency(oldSize, newSize, flipped(oldRoot, i), newRoot, path)).toBe(false);
      expect(verifyConsistency(oldSize, newSize, oldRoot, flipped(newRoot, i), path)).toBe(false);
    }
    expect(verifyConsistency(oldSize, newSize, oldRoot, newRoot, path.slice(0, -1))).toBe(false);
    expect(verifyConsistency(oldSize, newSize, oldRoot, newRoot, [...path, path[0] as Uint8Array])).toBe(false);
  });

  it('equal sizes need equal roots and an empty proof', () => {
    const root = rootFromLeafHashes(goLeaves);
    expect(verifyConsistency(13, 13, root, root, [])).toBe(true);
    expect(verifyConsistency(13, 13, root, flipped(root, 0), [])).toBe(false);
    expect(verifyConsistency(13, 13, root, root, [root])).toBe(false);
  });

  it('the empty tree is consistent with any tree, with the empty root and an empty proof', () => {
    const root = rootFromLeafHashes(goLeaves);
    expect(verifyConsistency(0, 13, EMPTY_ROOT, root, [])).toBe(true);
    expect(verifyConsistency(0, 13, root, root, [])).toBe(false);
    expect(verifyConsistency(0, 13, EMPTY_ROOT, root, [root])).toBe(false);
  });
});

describe('malformed proof inputs return false, never throw', () => {
  const leaf = goLeaves[0] as Uint8Array;
  const root = rootFromLeafHashes(goLeaves);
  const proof = inclusionProof(goLeaves, 0);
  it.each([
    ['index = size', [leaf, 13, 13, proof, root]],
    ['negative index', [leaf, -1, 13, proof, root]],
    ['fractional size', [leaf, 0, 12.5, proof, root]],
    ['unsafe size', [leaf, 0, 2 ** 53, proof, root]],
    ['NaN index', [leaf, Number.NaN, 13, proof, root]],
    ['short proof element', [leaf, 0, 13, [proof[0]?.slice(0, 31), ...proof.slice(1)], root]],
    ['short root', [leaf, 0, 13, proof, root.slice(1)]],
    ['short leaf', [leaf.slice(1), 0, 13, proof, root]],
    ['proof not an array', [leaf, 0, 13, 'x', root]],
    ['huge proof', [leaf, 0, 13, Array.from({ length: 200 }, () => leaf), root]],
  ] as const)('%s', (_name, args) => {
    const call = verifyInclusion as (...a: readonly unknown[]) => boolean;
    expect(call(...args)).toBe(false);
  });

  it('consistency with bad sizes', () => {
    const p = consistencyProof(goLeaves, 5);
    const old = rootFromLeafHashes(goLeaves.slice(0, 5));
    expect(verifyConsistency(5, 13, old, root, p)).toBe(true);
    expect(verifyConsistency(14, 13, old, root, p)).toBe(false);
    expect(verifyConsistency(-5, 13, old, root, p)).toBe(false);
    expect(verifyConsistency(5, 2 ** 53, old, root, p)).toBe(false);
    expect(verifyConsistency(5, 13, old, root, [...p.slice(0, -1), new Uint8Array(33)])).toBe(false);
  });
});

describe('perfectSubtrees', () => {
  it('decomposes ranges into aligned perfect subtrees, left to right', () => {
    expect(perfectSubtrees(0, 13)).toEqual([
      { level: 3, index: 0 },
      { level: 2, index: 2 },
      { level: 0, index: 12 },
    ]);
    expect(perfectSubtrees(3, 7)).toEqual([
      { level: 0, index: 3 },
      { level: 1, index: 2 },
      { level: 0, index: 6 },
    ]);
    expect(perfectSubtrees(5, 5)).toEqual([]);
    expect(perfectSubtrees(0, 2 ** 52)).toEqual([{ level: 52, index: 0 }]);
  });

  it('covers any range exactly', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(10_000), (a, b) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        let pos = start;
        for (const { level, index } of perfectSubtrees(start, end)) {
          expect(index * 2 ** level).toBe(pos);
          pos += 2 ** level;
        }
        expect(pos).toBe(end);
      }),
    );
  });

  it('rejects invalid bounds', () => {
    expect(() => perfectSubtrees(3, 2)).toThrow(RangeError);
    expect(() => perfectSubtrees(-1, 2)).toThrow(RangeError);
  });
});

describe('CompactRange', () => {
  it('resumes from stored right-edge hashes', () => {
    const { range, nodes } = buildStore(goLeaves.slice(0, 6));
    const edge = perfectSubtrees(0, 6).map((id) => nodes.get(`${id.level}/${id.index}`) as Uint8Array);
    expect(enc(edge)).toEqual(enc(range.subtreeHashes()));
    const resumed = new CompactRange(6, edge);
    for (const l of goLeaves.slice(6)) resumed.append(l);
    expect(resumed.size).toBe(13);
    expect(toBase64(resumed.root())).toBe(goVectors.treeHeads[12]?.root);
  });

  it('reports the leaf and every completed parent', () => {
    const edge = perfectSubtrees(0, 7).map(({ level, index }) => rootFromLeafHashes(goLeaves.slice(index * 2 ** level, (index + 1) * 2 ** level)));
    const range = new CompactRange(7, edge);
    const nodes = range.append(goLeaves[7] as Uint8Array);
    expect(nodes.map(({ level, index }) => ({ level, index }))).toEqual([
      { level: 0, index: 7 },
      { level: 1, index: 3 },
      { level: 2, index: 1 },
      { level: 3, index: 0 },
    ]);
    expect(toBase64(nodes[3]?.hash as Uint8Array)).toBe(goVectors.treeHeads[7]?.root);
  });

  it('rejects inconsistent construction and bad leaves', () => {
    expect(() => new CompactRange(6, [EMPTY_ROOT])).toThrow(RangeError);
    expect(() => new CompactRange(1.5, [])).toThrow(RangeError);
    expect(() => new CompactRange(1, [new Uint8Array(31)])).toThrow(RangeError);
    expect(() => new CompactRange().append(new Uint8Array(31))).toThrow(RangeError);
  });
});

describe('properties over random trees', () => {
  const sizes = fc.integer({ min: 1, max: 300 });

  it('every inclusion proof verifies, and equals the one built from stored subtrees', () => {
    fc.assert(
      fc.property(sizes, fc.nat(), (size, seed) => {
        const leaves = fakeLeaves(size, seed);
        const root = rootFromLeafHashes(leaves);
        const { nodes } = buildStore(leaves);
        for (let index = 0; index < size; index++) {
          const proof = inclusionProof(leaves, index);
          expect(verifyInclusion(leaves[index] as Uint8Array, index, size, proof, root)).toBe(true);
          expect(enc(rangeHashes(nodes, inclusionProofRanges(index, size)))).toEqual(enc(proof));
        }
      }),
      { numRuns: 10 },
    );
  }, 60_000);

  it('every consistency proof verifies, and equals the one built from stored subtrees', () => {
    fc.assert(
      fc.property(sizes, fc.nat(), (size, seed) => {
        const leaves = fakeLeaves(size, seed);
        const root = rootFromLeafHashes(leaves);
        const { nodes } = buildStore(leaves);
        const prefix = new CompactRange();
        for (let oldSize = 0; oldSize <= size; oldSize++) {
          if (oldSize > 0) prefix.append(leaves[oldSize - 1] as Uint8Array);
          const proof = consistencyProof(leaves, oldSize);
          const oldRoot = prefix.root();
          expect(verifyConsistency(oldSize, size, oldRoot, root, proof)).toBe(true);
          expect(enc(rangeHashes(nodes, consistencyProofRanges(oldSize, size)))).toEqual(enc(proof));
        }
      }),
      { numRuns: 10 },
    );
  }, 60_000);

  it('CompactRange.root() equals the RFC 9162 root after every append', () => {
    fc.assert(
      fc.property(sizes, fc.nat(), (size, seed) => {
        const leaves = fakeLeaves(size, seed);
        const range = new CompactRange();
        leaves.forEach((l, i) => {
          range.append(l);
          expect(toBase64(range.root())).toBe(toBase64(rootFromLeafHashes(leaves.slice(0, i + 1))));
        });
      }),
      { numRuns: 15 },
    );
  }, 60_000);

  it('a proof for one tree does not verify against a different tree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 100 }), fc.nat(), (size, seed) => {
        const leaves = fakeLeaves(size, seed);
        const other = fakeLeaves(size, seed + 1);
        const index = seed % size;
        const proof = inclusionProof(leaves, index);
        expect(verifyInclusion(leaves[index] as Uint8Array, index, size, proof, rootFromLeafHashes(other))).toBe(false);
        const oldSize = 1 + (seed % (size - 1));
        const cproof = consistencyProof(leaves, oldSize);
        const oldOther = rootFromLeafHashes(other.slice(0, oldSize));
        expect(verifyConsistency(oldSize, size, oldOther, rootFromLeafHashes(leaves), cproof)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });
});
