/**
 * Fuzzing the roster (src/roster/note.ts; docs/PROTOCOL.md, "The roster").
 *
 * - Round trip: a roster the association signs opens with the trust root as the same roster, and
 *   its text parses back to it.
 * - Signed mutations: every changed byte of a signed roster note makes `openRoster` refuse it.
 * - Text mutations: the unsigned text has one spelling per roster, so a changed byte is rejected
 *   by `parseRosterText`, or it is exactly the canonical text of the (different) roster it parses
 *   to. Every position of the vector's text is tried, then random rosters at random positions.
 * - Garbage: random values never make the parsers throw.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, utf8 } from '../../src/crypto/encoding.js';
import { ed25519PublicKey } from '../../src/crypto/index.js';
import { checkRoster, formatRosterText, openRoster, parseRosterText, rosterKeyName, signRoster } from '../../src/roster/index.js';
import { KEYS, roster } from './arbitraries.js';
import { fuzz, mutationOf, samplePool, singleByteMutations } from './fuzz-config.js';

const ROOT = KEYS[0]!;
const TRUST_ROOT = { name: rosterKeyName('jointban.example'), publicKey: ROOT.publicKey };
const POOL = 16;

const vectors = JSON.parse(readFileSync(new URL('../vectors/roster.json', import.meta.url), 'utf8')) as {
  trustRoot: { seedHex: string; keyName: string };
  valid: { text: string; note: string }[];
};

const asText = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

/** Rejected, or the canonical text of another roster. Never a throw. */
function expectRejectedOrOtherCanonical(original: string, mutated: string): 'rejected' | 'other' {
  const parsed = parseRosterText(mutated);
  if (!parsed.ok) {
    expect(parsed.error).toEqual(expect.any(String));
    return 'rejected';
  }
  expect(formatRosterText(parsed.roster)).toBe(mutated);
  expect(mutated).not.toBe(original);
  return 'other';
}

describe('roster round trip', () => {
  it('roster.roundtrip: sign, open and parse give back the roster', () => {
    fuzz(
      'roster.roundtrip',
      fc.property(roster, (r) => {
        expect(checkRoster(r)).toEqual({ ok: true, roster: r });
        const opened = openRoster(signRoster(r, ROOT.secretKey), TRUST_ROOT);
        expect(opened).toEqual({ ok: true, roster: r });
        expect(parseRosterText(formatRosterText(r))).toEqual({ ok: true, roster: r });
      }),
    );
  });
});

describe('roster mutations', () => {
  it('roster.mutation: any changed byte of a signed roster note is refused', () => {
    const notes = samplePool(
      'roster.mutation',
      roster.map((r) => utf8(signRoster(r, ROOT.secretKey))),
      POOL,
    );
    fuzz(
      'roster.mutation',
      fc.property(
        fc.nat(POOL - 1).chain((i) => mutationOf(notes[i]!)),
        ({ mutated }) => {
          expect(openRoster(asText(mutated), TRUST_ROOT).ok).toBe(false);
        },
      ),
    );
  });

  it('the signed vector opens, and any changed byte of its signature line is refused', () => {
    const vector = vectors.valid[0]!;
    const trustRoot = { name: vectors.trustRoot.keyName, publicKey: ed25519PublicKey(fromHex(vectors.trustRoot.seedHex)!) };
    expect(openRoster(vector.note, trustRoot).ok).toBe(true);
    // The text's bytes are covered by the text property below; here the bytes after it.
    const bytes = utf8(vector.note);
    const from = utf8(vector.text).length;
    let cases = 0;
    for (const { index, mutated } of singleByteMutations(bytes, 2)) {
      if (index < from) continue;
      expect(openRoster(asText(mutated), trustRoot).ok).toBe(false);
      cases++;
    }
    console.log(`fuzz roster.exhaustive-signature: ${cases} single-byte mutations of the vector's signature lines`);
  });

  it('every single-byte change of the vector’s text is rejected or another canonical roster', () => {
    const text = vectors.valid[0]!.text;
    expect(parseRosterText(text).ok).toBe(true);
    let cases = 0;
    let other = 0;
    for (const { mutated } of singleByteMutations(utf8(text), 3)) {
      if (expectRejectedOrOtherCanonical(text, asText(mutated)) === 'other') other++;
      cases++;
    }
    console.log(`fuzz roster.exhaustive-text: ${cases} single-byte mutations of the vector's text (${other} spell another valid roster)`);
  });

  it('roster.text-mutation: a random byte of a random roster text', () => {
    const texts = samplePool('roster.text-mutation', roster.map(formatRosterText), POOL);
    fuzz(
      'roster.text-mutation',
      fc.property(
        fc.nat(POOL - 1).chain((i) => mutationOf(utf8(texts[i]!)).map((m) => ({ ...m, text: texts[i]! }))),
        ({ mutated, text }) => {
          expectRejectedOrOtherCanonical(text, asText(mutated));
        },
      ),
    );
  });
});

describe('roster garbage', () => {
  it('roster.garbage: random values and texts never make the parsers throw', () => {
    const wrong = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 20 }), fc.constant([]), fc.constant({}), fc.constant([[[[]]]]));
    const rosterShaped = fc.tuple(roster, fc.nat(), wrong).map(([r, pick, value]) => {
      const obj = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
      const members = obj['members'] as Record<string, unknown>[];
      const keys = ['federation', 'version', 'issuedAt', 'members', 'extra', ...Object.keys(members[0]!).map((k) => `m.${k}`)];
      const key = keys[pick % keys.length]!;
      if (key.startsWith('m.')) members[pick % members.length]![key.slice(2)] = value;
      else obj[key] = value;
      return obj;
    });
    fuzz(
      'roster.garbage',
      fc.property(
        rosterShaped,
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.json().map((j) => `jointban-roster/v1\n${j}\n`),
        ),
        (value, text) => {
          expect(typeof checkRoster(value).ok).toBe('boolean');
          const line = `jointban-roster/v1\n${JSON.stringify(value)}\n`;
          const parsed = parseRosterText(line);
          if (parsed.ok) expect(formatRosterText(parsed.roster)).toBe(line);
          expect(typeof parseRosterText(text).ok).toBe('boolean');
          expect(openRoster(text, TRUST_ROOT).ok).toBe(false);
        },
      ),
    );
  });
});
