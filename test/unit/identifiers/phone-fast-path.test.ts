/**
 * The mainland-mobile fast path of normalisePhone must give exactly what libphonenumber-js gives
 * (normalisePhoneWithLibrary): on every phone test vector and on generated numbers of every 1xx
 * prefix, in every spelling the fast path reads and a few it must leave to the library.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalisePhone, normalisePhoneWithLibrary } from '../../../src/identifiers/phone.js';

interface VectorFile {
  cases: { type: string; raw: string }[];
}
const vectors = JSON.parse(readFileSync(new URL('../../vectors/tokens.json', import.meta.url), 'utf8')) as VectorFile;

/** Spellings of an 11-digit national number, some in the fast path, some not. */
const SPELLINGS: ((n: string) => string)[] = [
  (n) => n,
  (n) => `${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`,
  (n) => `${n.slice(0, 3)}-${n.slice(3, 7)}-${n.slice(7)}`,
  (n) => `+86 ${n.slice(0, 3)}-${n.slice(3, 7)}-${n.slice(7)}`,
  (n) => `+86${n}`,
  (n) => `+86-${n}`,
  (n) => `0086${n}`,
  (n) => `0086 ${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`,
  (n) => `${n.slice(0, 3)} ${n.slice(3, 7)}-${n.slice(7)}`,
  (n) => `86${n}`,
  (n) => `-${n}`,
  (n) => `+86 0${n}`,
  (n) => ` ${n}`,
  (n) => n.slice(0, 10),
  (n) => `${n}0`,
];

const agree = (raw: string, region: string): void => {
  expect(normalisePhone(raw, region)).toEqual(normalisePhoneWithLibrary(raw, region));
};

describe('the mainland mobile fast path agrees with libphonenumber-js', () => {
  it('on every phone test vector, under the regions CN, US and HK', () => {
    const raws = vectors.cases.filter((c) => c.type === 'phone').map((c) => c.raw);
    expect(raws.length).toBeGreaterThan(0);
    for (const raw of raws) for (const region of ['CN', 'US', 'HK']) agree(raw, region);
  });

  it('on generated numbers of every 1xx prefix, in every spelling', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 199 }), fc.stringMatching(/^[0-9]{8}$/), fc.nat(SPELLINGS.length - 1), fc.constantFrom('CN', 'US', 'HK', 'GB'), (prefix, rest, spelling, region) =>
        agree(SPELLINGS[spelling]!(`${prefix}${rest}`), region),
      ),
      { numRuns: 5000 },
    );
  });

  it('takes the fast path for the common spellings (the result is the E.164 form)', () => {
    for (const raw of ['13812345678', '138 1234 5678', '+86 138-1234-5678', '008613812345678', '+8613812345678']) {
      expect(normalisePhone(raw, 'CN')).toEqual({ ok: true, value: '+8613812345678' });
    }
  });
});
