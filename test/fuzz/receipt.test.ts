/**
 * Fuzzing receipts (src/log/receipt.ts; docs/PROTOCOL.md, "Receipts"): a receipt is checked
 * offline against the origin's roster key, so everything in it is attacker-controlled.
 *
 * - Valid receipts of random logs (random entries, sizes and leaves) verify and return their entry.
 * - Single-byte mutations of a receipt's JSON: the receipt no longer parses, or it no longer
 *   verifies. Nothing in a receipt is unsigned and unchecked.
 * - Fields: each field replaced by a value of the wrong type or range, or by the same field of
 *   another valid receipt (another leaf, another tree, another origin), fails verification.
 * `verifyReceipt` never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/crypto/encoding.js';
import { logOrigin, signCheckpoint } from '../../src/log/checkpoint.js';
import { encodeEntry, type LogEntry } from '../../src/log/entry.js';
import { inclusionProof, leafHash, rootFromLeafHashes } from '../../src/log/merkle.js';
import { buildReceipt, verifyReceipt, type Receipt } from '../../src/log/receipt.js';
import { KEYS, listingEntry, logEntry } from './arbitraries.js';
import { fuzz, mutationOf, samplePool } from './fuzz-config.js';

const FEDERATION = 'jointban.example';
const MEMBERS: Record<string, Uint8Array> = { alpha: KEYS[1]!.publicKey, beta: KEYS[2]!.publicKey };
const SECRETS: Record<string, Uint8Array> = { alpha: KEYS[1]!.secretKey, beta: KEYS[2]!.secretKey };
const publicKeyOf = (member: string) => (Object.hasOwn(MEMBERS, member) ? MEMBERS[member] : undefined);
const POOL = 16;

/** A valid receipt: a log of `origin` of random entries, one leaf of it, its proof and checkpoint. */
const receipt: fc.Arbitrary<Receipt> = fc
  .record({
    origin: fc.constantFrom('alpha', 'beta'),
    // The first entry of a log is a listing: a retraction needs an earlier one.
    entries: fc.tuple(listingEntry, fc.array(logEntry, { maxLength: 39 })).map(([first, rest]) => [first, ...rest]),
    pick: fc.nat(),
  })
  .map(({ origin, entries, pick }) => {
    const leaves = entries.map((e, i): Uint8Array => encodeEntry({ ...e, origin, seq: i + 1, ...(e.kind === 'retraction' ? { target: 1 + (e.target % i) } : {}) } as LogEntry));
    const hashes = leaves.map(leafHash);
    const size = leaves.length;
    const index = pick % size;
    const name = logOrigin(FEDERATION, origin);
    const checkpoint = signCheckpoint({ origin: name, size, root: rootFromLeafHashes(hashes) }, { name, secretKey: SECRETS[origin]! });
    return buildReceipt({ federation: FEDERATION, origin, leafIndex: index, treeSize: size, entry: leaves[index]!, proof: inclusionProof(hashes, index), checkpoint });
  })
  .filter((r) => verifyReceipt(r, publicKeyOf).ok);

const wrong = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1.5, 2 ** 53, Number.MAX_SAFE_INTEGER, '', 'x', 'AAAA', '0', [], {}, ['AAAA'], [[]], 'jointban-receipt/v2'),
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.array(fc.base64String({ minLength: 44, maxLength: 44 }), { maxLength: 4 }),
);
const FIELDS = ['format', 'federation', 'listingId', 'origin', 'leafIndex', 'treeSize', 'entry', 'inclusionProof', 'checkpoint'] as const;

describe('receipts', () => {
  const pool = samplePool('receipt.mutation', receipt, POOL);

  it('valid receipts of random logs verify and return their entry', () => {
    for (const r of pool) {
      const result = verifyReceipt(r, publicKeyOf);
      if (!result.ok) throw new Error(result.error);
      expect(result.entry).toMatchObject({ origin: r.origin, seq: r.leafIndex + 1 });
    }
  });

  it('receipt.mutation: any changed byte of a receipt’s JSON makes it unreadable or invalid', () => {
    const texts = pool.map((r) => utf8(JSON.stringify(r)));
    fuzz(
      'receipt.mutation',
      fc.property(
        fc.nat(POOL - 1).chain((i) => mutationOf(texts[i]!)),
        ({ mutated }) => {
          let value: unknown;
          try {
            value = JSON.parse(Buffer.from(mutated).toString('utf8'));
          } catch {
            return;
          }
          expect(verifyReceipt(value, publicKeyOf).ok).toBe(false);
        },
      ),
    );
  });

  it('receipt.fields: a field of the wrong type, or from another receipt, fails verification', () => {
    fuzz(
      'receipt.fields',
      fc.property(fc.nat(POOL - 1), fc.nat(POOL - 1), fc.constantFrom(...FIELDS), fc.boolean(), wrong, (i, j, field, borrow, value) => {
        const base = pool[i]!;
        const replacement: unknown = borrow ? pool[j]![field] : value;
        if (JSON.stringify(replacement) === JSON.stringify(base[field])) return;
        const tampered: Record<string, unknown> = { ...base, [field]: replacement };
        expect(verifyReceipt(tampered, publicKeyOf).ok).toBe(false);
        // Not an object at all, or a field missing: refused, never a throw.
        const { [field]: _dropped, ...missing } = base;
        expect(verifyReceipt(missing, publicKeyOf).ok).toBe(false);
        expect(verifyReceipt(value, publicKeyOf).ok).toBe(false);
      }),
    );
  });
});
