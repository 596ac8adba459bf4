/**
 * Fuzzing the RFC 9162 proofs (src/log/merkle.ts): proofs built two independent ways (the RFC's
 * recursive definitions, and the storage ranges a node serves proofs from) agree and verify; and
 * any change to a valid proof — a flipped bit in any element, an element dropped, added or moved,
 * a flipped bit in the leaf or a root — makes verification fail, without ever throwing.
 *
 * Sizes are not mutated on their own: an RFC 9162 proof binds a leaf to a root, and the root to a
 * size only through the signed checkpoint that carries both (e.g. PATH(0, D[5]) also verifies as
 * PATH(0, D[6]) against the root of 5 leaves). Garbage arguments must return false, not throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, utf8 } from '../../src/crypto/encoding.js';
import { consistencyProof, consistencyProofRanges, EMPTY_ROOT, inclusionProof, inclusionProofRanges, leafHash, rootFromLeafHashes, verifyConsistency, verifyInclusion } from '../../src/log/merkle.js';
import { fuzz } from './fuzz-config.js';

const MAX_LEAVES = 300;
/** A few fixed leaf sequences: a tree is a prefix of one of them (hashing leaves is not under test). */
const POOLS = Array.from({ length: 4 }, (_, salt) => Array.from({ length: MAX_LEAVES }, (_, i) => leafHash(utf8(`leaf ${salt} ${i}`))));

function leaves(n: number, salt: number): Uint8Array[] {
  return POOLS[salt % POOLS.length]!.slice(0, n);
}

/** The MTH of an aligned range, from the leaves (what a node computes from stored subtree hashes). */
function rangeHashes(all: readonly Uint8Array[], ranges: readonly { start: number; end: number }[]): Uint8Array[] {
  return ranges.map((r) => rootFromLeafHashes(all.slice(r.start, r.end)));
}

// Mostly small trees (every shape of the first seven levels), sometimes larger ones.
const treeSize = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 70 }) }, { weight: 1, arbitrary: fc.integer({ min: 71, max: MAX_LEAVES }) });
function sameHashes(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((h, i) => bytesEqual(h, b[i]!));
}

const tree = fc.record({ size: treeSize, salt: fc.nat(), pick: fc.nat() });

type ProofMutation = { kind: 'flip' | 'drop' | 'add' | 'swap' | 'leaf' | 'root' | 'oldRoot'; at: number; other: number; bit: number };
const proofMutation: fc.Arbitrary<ProofMutation> = fc.record({
  kind: fc.constantFrom('flip', 'flip', 'drop', 'add', 'swap', 'leaf', 'root', 'oldRoot'),
  at: fc.nat(),
  other: fc.nat(),
  bit: fc.nat(255),
});

function flipped(hash: Uint8Array, bit: number): Uint8Array {
  const out = hash.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

/** Applies a mutation; returns undefined when it does not apply to this proof (no element to change). */
function mutateProof(proof: Uint8Array[], m: ProofMutation): Uint8Array[] | undefined {
  const out = [...proof];
  const i = m.at % Math.max(1, out.length);
  switch (m.kind) {
    case 'flip':
      if (out.length === 0) return undefined;
      out[i] = flipped(out[i]!, m.bit);
      return out;
    case 'drop':
      if (out.length === 0) return undefined;
      out.splice(i, 1);
      return out;
    case 'add':
      out.splice(m.at % (out.length + 1), 0, leafHash(utf8(`extra ${m.other}`)));
      return out;
    case 'swap': {
      if (out.length < 2) return undefined;
      const j = (i + 1 + (m.other % (out.length - 1))) % out.length;
      [out[i], out[j]] = [out[j]!, out[i]!];
      return out;
    }
    default:
      return proof;
  }
}

const garbage = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.constant(-1),
  fc.constant(2 ** 53),
  fc.constant(Number.NaN),
  fc.uint8Array({ maxLength: 40 }),
  fc.string({ maxLength: 5 }),
  fc.array(fc.uint8Array({ maxLength: 33 }), { maxLength: 200 }),
);

describe('inclusion proofs', () => {
  it('merkle.inclusion: both constructions agree and verify', () => {
    fuzz(
      'merkle.inclusion',
      fc.property(tree, ({ size, salt, pick }) => {
        const all = leaves(size, salt);
        const index = pick % size;
        const root = rootFromLeafHashes(all);
        const proof = inclusionProof(all, index);
        expect(sameHashes(rangeHashes(all, inclusionProofRanges(index, size)), proof)).toBe(true);
        expect(verifyInclusion(all[index]!, index, size, proof, root)).toBe(true);
      }),
    );
  });
});

describe('consistency proofs', () => {
  it('merkle.consistency: both constructions agree and verify', () => {
    fuzz(
      'merkle.consistency',
      fc.property(tree, ({ size, salt, pick }) => {
        const all = leaves(size, salt);
        const oldSize = pick % (size + 1);
        const proof = consistencyProof(all, oldSize);
        expect(sameHashes(rangeHashes(all, consistencyProofRanges(oldSize, size)), proof)).toBe(true);
        const oldRoot = oldSize === 0 ? EMPTY_ROOT : rootFromLeafHashes(all.slice(0, oldSize));
        expect(verifyConsistency(oldSize, size, oldRoot, rootFromLeafHashes(all), proof)).toBe(true);
      }),
    );
  });
});

describe('mutated proofs', () => {
  it('merkle.mutated-proof: every change to a valid proof fails verification; garbage never throws', () => {
    let applied = 0;
    fuzz(
      'merkle.mutated-proof',
      fc.property(tree, fc.boolean(), proofMutation, garbage, garbage, ({ size, salt, pick }, inclusion, m, g1, g2) => {
        const all = leaves(size, salt);
        const root = rootFromLeafHashes(all);
        if (inclusion) {
          const index = pick % size;
          const proof = inclusionProof(all, index);
          const mutated = mutateProof(proof, m);
          if (mutated !== undefined) {
            const leaf = m.kind === 'leaf' ? flipped(all[index]!, m.bit) : all[index]!;
            const claimed = m.kind === 'root' || m.kind === 'oldRoot' ? flipped(root, m.bit) : root;
            expect(verifyInclusion(leaf, index, size, mutated, claimed)).toBe(false);
            applied++;
          }
        } else {
          const oldSize = pick % (size + 1);
          const proof = consistencyProof(all, oldSize);
          const oldRoot = oldSize === 0 ? EMPTY_ROOT : rootFromLeafHashes(all.slice(0, oldSize));
          const mutated = mutateProof(proof, m);
          if (mutated !== undefined && m.kind !== 'leaf') {
            const claimedOld = m.kind === 'oldRoot' ? flipped(oldRoot, m.bit) : oldRoot;
            const claimedNew = m.kind === 'root' ? flipped(root, m.bit) : root;
            expect(verifyConsistency(oldSize, size, claimedOld, claimedNew, mutated)).toBe(false);
            applied++;
          }
        }
        // Arguments of the wrong type or range, as peer data can hold: false, never a throw.
        const asProof = Array.isArray(g2) ? (g2 as Uint8Array[]) : [g2 as Uint8Array];
        expect(verifyInclusion(g1 as Uint8Array, g2 as number, size, asProof, root)).toBe(false);
        expect(verifyConsistency(g1 as number, size, flipped(root, 0), root, asProof)).toBe(false);
        expect(verifyConsistency(size, g1 as number, root, g2 as Uint8Array, [])).toBe(false);
      }),
    );
    expect(applied).toBeGreaterThan(400);
  });
});
