/**
 * Fuzzing the canonical entry encoding (src/log/entry.ts; docs/PROTOCOL.md, "Canonical bytes").
 *
 * - Round trip: decode(encode(e)) = e and encode(decode(b)) = b for entries over the whole range
 *   of the format.
 * - Single-byte mutations: an entry's bytes are not signed by themselves (the checkpoint is), so a
 *   changed byte may spell another valid entry (seq 1 → seq 2). What must hold is that each entry
 *   has one byte form: a mutated byte string is rejected, or it is exactly the canonical bytes of
 *   the entry it decodes to, and that entry is not the original. Every position of every valid
 *   vector is tried, then random entries at random positions.
 * - Garbage: random bytes, random JSON and entry-shaped objects with wrong types never make the
 *   decoder throw.
 * - Every input of the mutation and garbage properties is also decoded by the reference decoder the
 *   fast one replaced (test/helpers/reference-entry.ts): the results must be equal.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual, utf8 } from '../../src/crypto/encoding.js';
import { checkEntry, decodeEntry, encodeEntry, type LogEntry } from '../../src/log/entry.js';
import { referenceDecodeEntry } from '../helpers/reference-entry.js';
import { logEntry } from './arbitraries.js';
import { fuzz, mutationOf, singleByteMutations } from './fuzz-config.js';

interface VectorFile {
  cases: { valid: boolean; bytes: string; comment: string }[];
}

const vectors = (JSON.parse(readFileSync(new URL('../vectors/entries.json', import.meta.url), 'utf8')) as VectorFile).cases;

function withoutUndefined(entry: LogEntry): LogEntry {
  return JSON.parse(JSON.stringify(entry)) as LogEntry;
}

/** The mutation property: rejected, or the canonical bytes of a different entry. Never a throw. */
function expectRejectedOrOtherCanonical(original: Uint8Array, mutated: Uint8Array): 'rejected' | 'other' {
  const decoded = decodeEntry(mutated);
  expect(decoded).toEqual(referenceDecodeEntry(mutated));
  if (!decoded.ok) {
    expect(decoded.error).toEqual(expect.any(String));
    return 'rejected';
  }
  expect(bytesEqual(encodeEntry(decoded.entry), mutated)).toBe(true);
  expect(bytesEqual(mutated, original)).toBe(false);
  return 'other';
}

describe('entry round trip', () => {
  it('entry.roundtrip: decode(encode(e)) = e and encode(decode(b)) = b', () => {
    fuzz(
      'entry.roundtrip',
      fc.property(logEntry, (entry) => {
        const bytes = encodeEntry(entry);
        const decoded = decodeEntry(bytes);
        if (!decoded.ok) throw new Error(`a valid entry was refused: ${decoded.error}`);
        expect(decoded.entry).toEqual(withoutUndefined(entry));
        expect(bytesEqual(encodeEntry(decoded.entry), bytes)).toBe(true);
      }),
    );
  });
});

describe('entry single-byte mutations', () => {
  it('every single-byte change of every valid vector is rejected or another canonical entry', () => {
    const valid = vectors.filter((c) => c.valid);
    expect(valid.length).toBeGreaterThan(0);
    let cases = 0;
    let other = 0;
    for (const vector of valid) {
      const original = utf8(vector.bytes);
      expect(decodeEntry(original).ok).toBe(true);
      for (const { mutated } of singleByteMutations(original)) {
        if (expectRejectedOrOtherCanonical(original, mutated) === 'other') other++;
        cases++;
      }
    }
    console.log(`fuzz entry.exhaustive: ${cases} single-byte mutations of ${valid.length} vectors (${other} spell another valid entry)`);
    expect(cases).toBeGreaterThan(1_000);
  });

  it('entry.mutation: a random byte of a random entry', () => {
    fuzz(
      'entry.mutation',
      fc.property(
        logEntry.chain((entry) => {
          const bytes = encodeEntry(entry);
          return mutationOf(bytes).map((m) => ({ bytes, ...m }));
        }),
        ({ bytes, mutated }) => {
          expectRejectedOrOtherCanonical(bytes, mutated);
        },
      ),
    );
  });
});

describe('entry garbage', () => {
  const wrongType = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 20 }), fc.constant([]), fc.constant({}), fc.constant(2 ** 53), fc.constant('1'));
  const entryShaped = logEntry.chain((entry) =>
    fc.record({ key: fc.constantFrom(...Object.keys(entry), 'tokens', 'extra', '__proto__', 'constructor'), value: wrongType }).map(({ key, value }) => {
      const obj = JSON.parse(JSON.stringify(entry)) as Record<string, unknown>;
      obj[key] = value;
      return obj;
    }),
  );
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc.json({ depthSize: 'medium' }).map(utf8),
    entryShaped.map((obj) => utf8(JSON.stringify(obj))),
    fc.nat(20_000).map((depth) => utf8(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
    fc.string({ unit: 'binary', maxLength: 200 }).map(utf8),
  );

  it('entry.garbage: the decoder never throws, and what it accepts is canonical', () => {
    fuzz(
      'entry.garbage',
      fc.property(input, entryShaped, (bytes, obj) => {
        const decoded = decodeEntry(bytes);
        expect(decoded).toEqual(referenceDecodeEntry(bytes));
        if (decoded.ok) expect(bytesEqual(encodeEntry(decoded.entry), bytes)).toBe(true);
        else expect(decoded.error).toEqual(expect.any(String));
        const checked = checkEntry(obj);
        expect(typeof checked.ok).toBe('boolean');
      }),
    );
  });
});
