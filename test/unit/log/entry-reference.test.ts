/**
 * The fast entry codec (src/log/entry.ts: the RFC 8785 encoder written for the entry's shape, the
 * ASCII shortcut, the field-by-field time check) against the reference it replaced
 * (test/helpers/reference-entry.ts: JSON.parse, the old validator, the `canonicalize` package and
 * a byte comparison). Both must give the same result, error message included, on valid entries
 * and on every kind of near miss: reordered keys, whitespace, escapes, other spellings of numbers,
 * duplicate and unknown keys, non-NFC and non-ASCII text, a BOM, single-byte changes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../../src/crypto/encoding.js';
import { decodeEntry, encodeEntry, isEntryTime, type LogEntry } from '../../../src/log/entry.js';
import { referenceDecodeEntry, referenceEncodeEntry } from '../../helpers/reference-entry.js';
import { isEntryTime as referenceIsEntryTime } from '../../helpers/reference-entry-schema.js';
import { logEntry } from '../../fuzz/arbitraries.js';

const RUNS = { numRuns: 400 };

function expectSameDecoding(bytes: Uint8Array): void {
  expect(decodeEntry(bytes)).toEqual(referenceDecodeEntry(bytes));
}

const textOf = (entry: LogEntry): string => new TextDecoder().decode(encodeEntry(entry));

/** A JSON value's members rebuilt in a random order, recursively (arrays keep their order). */
function shuffled(value: unknown, random: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffled(v, random));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).map(([k, v]) => [k, shuffled(v, random)] as const);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries);
}

/** Text edits a hostile or sloppy encoder could make to a canonical entry. */
const edits: Record<string, (text: string, at: number, pick: number) => string> = {
  whitespace: (t, at, pick) => `${t.slice(0, at)}${[' ', '\n', '\t', '\r', '  '][pick % 5]}${t.slice(at)}`,
  'escaped character': (t, at) => {
    // Escape the first letter or digit inside a string value at or after `at`.
    const m = /"[^"]*?([a-z0-9])/g;
    m.lastIndex = at;
    const found = m.exec(t) ?? /"[^"]*?([a-z0-9])/.exec(t);
    if (!found) return t;
    const i = found.index + found[0].length - 1;
    const c = t.charCodeAt(i);
    return `${t.slice(0, i)}\\u${c.toString(16).padStart(4, '0')}${t.slice(i + 1)}`;
  },
  'escaped solidus': (t) => t.replace('-', '\\u002d'),
  'number spelling': (t, _at, pick) =>
    t.replace(/"(seq|epoch|target|v)":(\d+)/, (_m, k: string, n: string) => `"${k}":${[`${n}.0`, `${n}e0`, `0${n}`, `${n}E+0`, `-0`, `${n}.`, `+${n}`, `${Number(n) * 10}e-1`][pick % 8]}`),
  'duplicate key': (t, _at, pick) => `${t.slice(0, -1)},"${['seq', 'origin', 'v', 'kind', 'time'][pick % 5]}":${pick % 2 === 0 ? '1' : '"alpha"'}}`,
  'duplicate key first': (t) => `{"v":1,${t.slice(1)}`,
  'unknown key': (t, _at, pick) => `${t.slice(0, -1)},"${['zzz', 'extra', '__proto__', 'constructor', 'Seq'][pick % 5]}":1}`,
  'non-NFC text': (t) => t.replace(/"category":"([a-z])/, '"category":"$1\u0065\u0301'),
  'non-ASCII text': (t) => t.replace(/"origin":"([a-z])/, '"origin":"$1é'),
  'byte order mark': (t) => `\ufeff${t}`,
  'trailing newline': (t) => `${t}\n`,
  'upper-case hex': (t) => t.replace(/"token":"([0-9a-f]+)"/, (_m, h: string) => `"token":"${h.toUpperCase()}"`),
  'missing key': (t, _at, pick) => {
    const members = [...t.matchAll(/"(\w+)":/g)].filter((m) => !['epoch', 'token', 'type', 'evidenceDigest'].includes(m[1]!));
    const name = members[pick % members.length]![1]!;
    const obj = JSON.parse(t) as Record<string, unknown>;
    delete obj[name];
    return JSON.stringify(obj);
  },
  'missing token key': (t, _at, pick) => t.replace(['"epoch":1,', ',"type":"', '"token":"'][pick % 3]!, (m) => (m.startsWith(',') ? ',"typo":"' : '')),
  'duplicate token': (t) => t.replace(/"tokens":\[(\{[^}]*\})/, '"tokens":[$1,$1'),
  'null evidence': (t) => t.replace('"expiresAt"', '"evidenceDigest":null,"expiresAt"'),
};

describe('encodeEntry', () => {
  it('gives the bytes of the canonicalize package on every valid entry', () => {
    fc.assert(
      fc.property(logEntry, (entry) => {
        expect(encodeEntry(entry)).toEqual(referenceEncodeEntry(entry));
      }),
      RUNS,
    );
  });

  it('throws where the reference throws', () => {
    const bad = { v: 1, kind: 'retraction', origin: 'alpha', seq: 2, time: '2025-01-01T00:00:00.000Z', target: 2, reason: 'other' } as LogEntry;
    expect(() => referenceEncodeEntry(bad)).toThrow(TypeError);
    expect(() => encodeEntry(bad)).toThrow('invalid log entry: target must be the seq of an earlier entry');
  });
});

describe('decodeEntry agrees with the reference decoder', () => {
  it('on valid entries', () => {
    fc.assert(
      fc.property(logEntry, (entry) => {
        const bytes = encodeEntry(entry);
        expectSameDecoding(bytes);
        expect(decodeEntry(bytes).ok).toBe(true);
      }),
      RUNS,
    );
  });

  it('on the same entry with its keys in another order', () => {
    fc.assert(
      fc.property(logEntry, fc.integer(), (entry, seed) => {
        let state = seed >>> 0;
        const random = () => (state = (state * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
        expectSameDecoding(utf8(JSON.stringify(shuffled(JSON.parse(textOf(entry)), random))));
      }),
      RUNS,
    );
  });

  for (const [name, edit] of Object.entries(edits)) {
    it(`on entries with a ${name}`, () => {
      let changed = 0;
      let rejected = 0;
      fc.assert(
        fc.property(logEntry, fc.nat(), fc.nat(), (entry, at, pick) => {
          const text = textOf(entry);
          const edited = edit(text, at % text.length, pick);
          const bytes = utf8(edited);
          expectSameDecoding(bytes);
          if (edited === text) return;
          changed++;
          if (!decodeEntry(bytes).ok) rejected++;
        }),
        RUNS,
      );
      // An entry has one byte form, so every edit is rejected; and the edit must apply often enough
      // (some apply to listings only) for the comparison to mean something.
      expect(rejected).toBe(changed);
      expect(changed).toBeGreaterThan(RUNS.numRuns / 4);
    });
  }

  it('on single-byte changes and truncations', () => {
    fc.assert(
      fc.property(logEntry, fc.nat(), fc.integer({ min: 0, max: 255 }), (entry, at, value) => {
        const bytes = encodeEntry(entry);
        const changed = Uint8Array.from(bytes);
        changed[at % bytes.length] = value;
        expectSameDecoding(changed);
        expectSameDecoding(bytes.subarray(0, at % bytes.length));
      }),
      RUNS,
    );
  });

  it('on arbitrary bytes, JSON and strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.json().map(utf8), fc.string({ unit: 'binary', maxLength: 200 }).map(utf8)), (bytes) => {
        expectSameDecoding(bytes);
      }),
      RUNS,
    );
  });

  it('on bad arguments and limits', () => {
    for (const bytes of [new Uint8Array(0), new Uint8Array(16 * 1024 + 1).fill(0x20), utf8('[[[[1]]]]'), Buffer.from('{}')]) expectSameDecoding(bytes);
    expect(decodeEntry('{}' as unknown as Uint8Array)).toEqual(referenceDecodeEntry('{}' as unknown as Uint8Array));
  });
});

describe('isEntryTime agrees with the Date round trip it replaced', () => {
  const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(''));
  // Every field drawn over its whole two-digit (four for the year) range, so impossible dates abound.
  const timeShaped = fc
    .tuple(fc.oneof(digits(4), fc.constantFrom('0000', '1900', '2000', '2024', '2100', '9999')), digits(2), digits(2), digits(2), digits(2), digits(2), digits(3))
    .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
  const nearlyValid = fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 25 }),
      fc.integer({ min: 0, max: 61 }),
      fc.integer({ min: 0, max: 61 }),
    )
    .map(
      ([y, mo, d, h, mi, s]) =>
        `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}.000Z`,
    );

  it('on time-shaped strings', () => {
    fc.assert(
      fc.property(fc.oneof(timeShaped, nearlyValid, fc.string({ maxLength: 30 })), (value) => {
        expect(isEntryTime(value)).toBe(referenceIsEntryTime(value));
      }),
      { numRuns: 3000 },
    );
  });

  it('on the calendar edges', () => {
    const edges = [
      '2024-02-29T00:00:00.000Z',
      '2023-02-29T00:00:00.000Z',
      '1900-02-29T00:00:00.000Z',
      '2000-02-29T00:00:00.000Z',
      '0000-02-29T00:00:00.000Z',
      '2025-04-31T00:00:00.000Z',
      '2025-12-31T23:59:59.999Z',
      '2025-01-01T24:00:00.000Z',
      '2025-06-30T23:59:60.000Z',
      '2025-00-10T00:00:00.000Z',
      '2025-13-01T00:00:00.000Z',
      '2025-01-00T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '0000-01-01T00:00:00.000Z',
    ];
    for (const t of edges) expect([t, isEntryTime(t)]).toEqual([t, referenceIsEntryTime(t)]);
    expect(edges.filter((t) => isEntryTime(t))).toEqual([
      '2024-02-29T00:00:00.000Z',
      '2000-02-29T00:00:00.000Z',
      '0000-02-29T00:00:00.000Z',
      '2025-12-31T23:59:59.999Z',
      '9999-12-31T23:59:59.999Z',
      '0000-01-01T00:00:00.000Z',
    ]);
  });
});
