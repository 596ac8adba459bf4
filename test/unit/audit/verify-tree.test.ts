/**
 * The verifier's own building blocks, checked against the log core they must agree with: the
 * native leaf hash against `leafHash`, the expected number of stored nodes against what
 * `CompactRange` (the writer of every stored node) produces, and the index set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexSet } from '../../../src/audit/verify-projection.js';
import { fromBinaryHash, leafHashBinary, nodeHashBinary, rootOf, storedNodeCount, toBinaryHash } from '../../../src/audit/verify-tree.js';
import { CompactRange, leafHash, nodeHash } from '../../../src/log/index.js';

describe('binary hashes', () => {
  it('round-trip any 32 bytes through a binary string of 32 characters', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const text = toBinaryHash(bytes);
        expect(text).toHaveLength(32);
        expect(fromBinaryHash(text)).toEqual(bytes);
      }),
    );
  });
});

describe('leafHashBinary', () => {
  it('equals the RFC 9162 leaf hash of the log core on any input, also after a longer one grew its scratch buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (data) => {
        expect(fromBinaryHash(leafHashBinary(data))).toEqual(leafHash(data));
      }),
    );
  });
});

describe('nodeHashBinary', () => {
  it('equals the RFC 9162 node hash of the log core', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (left, right) => {
        expect(fromBinaryHash(nodeHashBinary(toBinaryHash(left), toBinaryHash(right)))).toEqual(nodeHash(left, right));
      }),
    );
  });

  it('builds the same tree in CompactRange as the default hash, and rootOf gives its root', () => {
    const native = new CompactRange(0, [], (l, r) => fromBinaryHash(nodeHashBinary(toBinaryHash(l), toBinaryHash(r))));
    const noble = new CompactRange();
    for (let i = 0; i < 300; i++) {
      const leaf = leafHash(new Uint8Array([i & 255, i >> 8]));
      expect(native.append(leaf)).toEqual(noble.append(leaf));
      expect(native.root()).toEqual(noble.root());
      expect(rootOf(noble.subtreeHashes().map(toBinaryHash))).toEqual(noble.root());
    }
  });
});

describe('storedNodeCount', () => {
  it('is the number of nodes CompactRange completes, for every size up to 600', () => {
    const range = new CompactRange();
    let completed = 0;
    expect(storedNodeCount(0)).toBe(0);
    for (let size = 1; size <= 600; size++) {
      completed += range.append(new Uint8Array(32).fill(size % 251)).length;
      expect(storedNodeCount(size)).toBe(completed);
    }
  });
});

describe('IndexSet', () => {
  it('holds exactly the indices added, growing as needed', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat({ max: 200_000 }), { maxLength: 200 }), fc.array(fc.nat({ max: 200_000 }), { maxLength: 200 }), (added, probes) => {
        const set = new IndexSet();
        for (const i of added) set.add(i);
        for (const i of [...added, ...probes]) expect(set.has(i)).toBe(added.includes(i));
      }),
    );
  });
});
