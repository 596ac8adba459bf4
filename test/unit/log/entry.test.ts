import { readFileSync } from 'node:fs';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromUtf8, toHex, utf8 } from '../../../src/crypto/encoding.js';
import { IDENTIFIER_TYPES } from '../../../src/identifiers/types.js';
import {
  MAX_ENTRY_BYTES,
  MAX_TOKENS,
  RETRACTION_REASONS,
  decodeEntry,
  encodeEntry,
  leafHash,
  listingId,
  parseListingId,
  type ListingEntry,
  type LogEntry,
  type RetractionEntry,
} from '../../../src/log/index.js';

interface EntryVector {
  comment: string;
  valid: boolean;
  tags: string[];
  bytes: string;
  leafHashHex?: string;
}
const vectors = JSON.parse(readFileSync(new URL('../../vectors/entries.json', import.meta.url), 'utf8')) as {
  cases: EntryVector[];
};

const token = (n: number): string => n.toString(16).padStart(32, '0');

const listing: ListingEntry = {
  tokens: [{ token: '00112233445566778899aabbccddeeff', epoch: 1, type: 'phone' }],
  v: 1,
  seq: 1,
  kind: 'listing',
  origin: 'alpha',
  time: '2025-03-01T08:00:00.000Z',
  category: 'fraud',
  severity: 'severe',
  bannedAt: '2025-03-01T07:59:12.345Z',
  banUntil: null,
  expiresAt: '2028-03-01T07:59:12.345Z',
};
const retraction: RetractionEntry = {
  v: 1,
  kind: 'retraction',
  origin: 'alpha',
  seq: 2,
  time: '2025-03-05T10:30:00.000Z',
  target: 1,
  reason: 'appeal_upheld',
};
const listingText =
  '{"banUntil":null,"bannedAt":"2025-03-01T07:59:12.345Z","category":"fraud","expiresAt":"2028-03-01T07:59:12.345Z",' +
  '"kind":"listing","origin":"alpha","seq":1,"severity":"severe","time":"2025-03-01T08:00:00.000Z",' +
  '"tokens":[{"epoch":1,"token":"00112233445566778899aabbccddeeff","type":"phone"}],"v":1}';

function decodeText(text: string): ReturnType<typeof decodeEntry> {
  return decodeEntry(utf8(text));
}

/** The canonical text of an entry with one field replaced, so only that field is wrong. */
function withField(entry: LogEntry, key: string, value: unknown): string {
  return canonicalize({ ...entry, [key]: value }) as string;
}

describe('canonical encoding (RFC 8785)', () => {
  it('sorts keys, uses no whitespace and gives the known bytes', () => {
    expect(fromUtf8(encodeEntry(listing))).toBe(listingText);
    expect(fromUtf8(encodeEntry(retraction))).toBe('{"kind":"retraction","origin":"alpha","reason":"appeal_upheld","seq":2,"target":1,"time":"2025-03-05T10:30:00.000Z","v":1}');
  });

  it('omits an undefined evidenceDigest and keeps a set one', () => {
    expect(fromUtf8(encodeEntry({ ...listing, evidenceDigest: undefined }))).toBe(listingText);
    const digest = `sha256:${'ab'.repeat(32)}`;
    expect(fromUtf8(encodeEntry({ ...listing, evidenceDigest: digest }))).toContain(`"evidenceDigest":"${digest}"`);
  });

  it('refuses to encode an invalid entry', () => {
    expect(() => encodeEntry({ ...listing, seq: 0 })).toThrow(TypeError);
    expect(() => encodeEntry({ ...listing, tokens: [] })).toThrow(TypeError);
    expect(() => encodeEntry({ ...listing, extra: 1 } as ListingEntry)).toThrow(TypeError);
  });
});

describe('entry vectors (test/vectors/entries.json)', () => {
  it('has valid and invalid cases', () => {
    expect(vectors.cases.filter((c) => c.valid).length).toBeGreaterThanOrEqual(3);
    expect(vectors.cases.filter((c) => !c.valid).length).toBeGreaterThanOrEqual(10);
  });

  it.each(vectors.cases.filter((c) => c.valid))('accepts: $comment', (c) => {
    const decoded = decodeText(c.bytes);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(fromUtf8(encodeEntry(decoded.entry))).toBe(c.bytes);
    expect(toHex(leafHash(utf8(c.bytes)))).toBe(c.leafHashHex);
  });

  it.each(vectors.cases.filter((c) => !c.valid))('rejects: $comment', (c) => {
    expect(decodeText(c.bytes).ok).toBe(false);
  });
});

describe('decode rejects non-canonical bytes', () => {
  it.each([
    ['spaces', listingText.replace('"seq":1', '"seq": 1')],
    ['key order', listingText.replace('{"banUntil":null,"bannedAt"', '{"bannedAt"').replace('"category"', '"banUntil":null,"category"')],
    ['a trailing newline', `${listingText}\n`],
    ['an exponent', listingText.replace('"seq":1', '"seq":1e0')],
  ])('%s', (_name, text) => {
    expect(JSON.parse(text)).toEqual(JSON.parse(listingText));
    expect(decodeText(text)).toEqual({ ok: false, error: 'entry is not in canonical form (RFC 8785)' });
  });
});

describe('decode rejects unknown keys', () => {
  it.each([
    ['top level', withField(listing, 'raw', '13800000000')],
    ['token', listingText.replace('"type":"phone"', '"type":"phone","value":"x"')],
    ['listing field on a retraction', withField(retraction, 'category', 'fraud')],
    ['__proto__', listingText.replace('{', '{"__proto__":{},')],
  ])('%s', (_name, text) => {
    const r = decodeText(text);
    expect(r.ok === false && r.error).toMatch(/unknown field/);
  });

  it('and missing ones', () => {
    const { expiresAt: _, ...rest } = listing;
    expect(decodeText(canonicalize(rest) as string)).toEqual({ ok: false, error: 'entry is missing the field "expiresAt"' });
  });
});

describe('decode rejects bad times', () => {
  it.each([
    '2025-03-01T08:00:00Z',
    '2025-03-01T08:00:00.000+00:00',
    '2025-03-01 08:00:00.000Z',
    '2025-02-29T08:00:00.000Z',
    '2025-03-01T24:00:00.000Z',
    '+02025-03-01T08:00:00.000Z',
    '2025-03-01T08:00:00.0000Z',
  ])('%s', (time) => {
    const r = decodeText(withField(listing, 'time', time));
    expect(r).toEqual({ ok: false, error: 'time must be a UTC time in the form YYYY-MM-DDTHH:MM:SS.sssZ' });
  });

  it('rejects banUntil or expiresAt not after bannedAt', () => {
    expect(decodeText(withField(listing, 'banUntil', listing.bannedAt)).ok).toBe(false);
    expect(decodeText(withField(listing, 'expiresAt', '2025-01-01T00:00:00.000Z')).ok).toBe(false);
  });
});

describe('decode rejects bad numbers', () => {
  it.each([0, -1, 1.5, 2 ** 53, '1'])('seq %s', (seq) => {
    expect(decodeText(withField(listing, 'seq', seq))).toEqual({ ok: false, error: 'seq must be an integer ≥ 1' });
  });

  it.each([-1, 0, 2 ** 32, 0.5])('epoch %s', (epoch) => {
    const r = decodeText(withField(listing, 'tokens', [{ epoch, token: token(1), type: 'email' }]));
    expect(r.ok === false && r.error).toMatch(/epoch/);
  });

  it('retraction target must precede seq', () => {
    expect(decodeText(withField(retraction, 'target', 2)).ok).toBe(false);
    expect(decodeText(withField(retraction, 'target', 0)).ok).toBe(false);
  });
});

describe('decode rejects bad tokens', () => {
  const tok = (t: unknown): string => withField(listing, 'tokens', t);
  it.each([
    ['too many', Array.from({ length: MAX_TOKENS + 1 }, (_, i) => ({ epoch: 1, token: token(i), type: 'phone' }))],
    ['none', []],
    ['31 hex characters', [{ epoch: 1, token: token(1).slice(1), type: 'phone' }]],
    ['34 hex characters', [{ epoch: 1, token: `00${token(1)}`, type: 'phone' }]],
    ['upper-case hex', [{ epoch: 1, token: 'AB'.repeat(16), type: 'phone' }]],
    [
      'duplicate',
      [
        { epoch: 1, token: token(1), type: 'phone' },
        { epoch: 1, token: token(1), type: 'phone' },
      ],
    ],
    ['unknown type', [{ epoch: 1, token: token(1), type: 'passport' }]],
    ['not an array', { epoch: 1, token: token(1), type: 'phone' }],
  ])('%s', (_name, tokens) => {
    const r = decodeText(tok(tokens));
    expect(r.ok === false && r.error).toMatch(/^tokens/);
  });

  it('accepts exactly the maximum', () => {
    const tokens = Array.from({ length: MAX_TOKENS }, (_, i) => ({ epoch: 1, token: token(i), type: 'phone' }));
    expect(decodeText(tok(tokens)).ok).toBe(true);
  });
});

describe('decode rejects malformed input without throwing', () => {
  it.each([
    ['empty', new Uint8Array(0)],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
    ['not JSON', utf8('{"v":1')],
    ['a string', utf8('"listing"')],
    ['null', utf8('null')],
    ['over the size cap', utf8(`{"a":"${'x'.repeat(MAX_ENTRY_BYTES)}"}`)],
    ['deep nesting', utf8(`${'['.repeat(5000)}${']'.repeat(5000)}`)],
  ])('%s', (_name, bytes) => {
    expect(decodeEntry(bytes).ok).toBe(false);
  });

  it('a non-byte argument', () => {
    expect(decodeEntry(listingText as unknown as Uint8Array).ok).toBe(false);
  });

  // JSON.parse now runs before the nesting cap is checked (the cap is checked once a text has
  // failed): the deepest text within the size cap must still be refused with the cap's own error.
  it('the deepest nesting the size cap allows, with the nesting error', () => {
    const depth = MAX_ENTRY_BYTES / 2;
    expect(decodeEntry(utf8(`${'['.repeat(depth)}${']'.repeat(depth)}`))).toEqual({ ok: false, error: 'entry JSON is nested too deeply' });
    expect(decodeEntry(utf8(`{"v":${'['.repeat(depth - 3)}${']'.repeat(depth - 3)}}`))).toEqual({ ok: false, error: 'entry JSON is nested too deeply' });
  });
});

const hexToken = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(toHex);
const isoTime = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2090, 0, 1) }).map((ms) => new Date(ms).toISOString());
const memberId = fc.stringMatching(/^[a-z][a-z0-9-]{1,31}$/);
const listingArb: fc.Arbitrary<ListingEntry> = fc
  .record({
    origin: memberId,
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    time: isoTime,
    category: fc.stringMatching(/^[a-z][a-z0-9_]{1,63}$/),
    bannedAt: isoTime,
    banDays: fc.option(fc.integer({ min: 1, max: 3650 }), { nil: null }),
    expiryDays: fc.integer({ min: 1, max: 3650 }),
    evidenceDigest: fc.option(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256:${toHex(b)}`),
      { nil: undefined },
    ),
    tokens: fc.uniqueArray(fc.record({ type: fc.constantFrom(...IDENTIFIER_TYPES), epoch: fc.integer({ min: 1, max: 2 ** 32 - 1 }), token: hexToken }), {
      minLength: 1,
      maxLength: MAX_TOKENS,
      selector: (t) => `${t.type}/${t.epoch}/${t.token}`,
    }),
  })
  .map(({ banDays, expiryDays, bannedAt, ...rest }) => {
    const at = Date.parse(bannedAt);
    return {
      v: 1,
      kind: 'listing',
      severity: 'severe',
      ...rest,
      bannedAt,
      banUntil: banDays === null ? null : new Date(at + banDays * 86_400_000).toISOString(),
      expiresAt: new Date(at + expiryDays * 86_400_000).toISOString(),
    } satisfies ListingEntry;
  });
const retractionArb: fc.Arbitrary<RetractionEntry> = fc
  .record({
    origin: memberId,
    seq: fc.integer({ min: 2, max: Number.MAX_SAFE_INTEGER }),
    time: isoTime,
    reason: fc.constantFrom(...RETRACTION_REASONS),
    t: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ t, ...rest }) => ({ v: 1, kind: 'retraction', ...rest, target: 1 + Math.floor(t * (rest.seq - 2)) }) satisfies RetractionEntry);

describe('round trip', () => {
  it('decode(encode(e)) = e, and re-encoding gives the same bytes', () => {
    fc.assert(
      fc.property(fc.oneof(listingArb, retractionArb), (entry) => {
        const bytes = encodeEntry(entry);
        const decoded = decodeEntry(bytes);
        expect(decoded.ok).toBe(true);
        if (!decoded.ok) return;
        const expected: LogEntry = { ...entry };
        if (expected.kind === 'listing' && expected.evidenceDigest === undefined) delete expected.evidenceDigest;
        expect(decoded.entry).toEqual(expected);
        expect(encodeEntry(decoded.entry)).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the hand-written canonical form', () => {
  it('equals the canonicalize package (RFC 8785) on generated entries', () => {
    fc.assert(
      fc.property(fc.oneof(listingArb, retractionArb), (entry) => {
        const plain: Record<string, unknown> = { ...entry };
        if (plain['evidenceDigest'] === undefined) delete plain['evidenceDigest'];
        expect(fromUtf8(encodeEntry(entry))).toBe(canonicalize(plain));
      }),
      { numRuns: 500 },
    );
  });
});

describe('listing ids', () => {
  it('formats and parses', () => {
    expect(listingId('alpha', 42)).toBe('alpha:42');
    expect(parseListingId('alpha:42')).toEqual({ ok: true, origin: 'alpha', seq: 42 });
    expect(parseListingId('beta-2:9007199254740991')).toEqual({ ok: true, origin: 'beta-2', seq: 9007199254740991 });
  });

  it.each(['alpha', 'alpha:0', 'alpha:01', 'alpha:-1', 'Alpha:1', 'a:1', 'alpha:1:2', 'alpha:9007199254740993', ':1', 'alpha:1.0'])('rejects %s', (id) => {
    expect(parseListingId(id).ok).toBe(false);
  });
});
