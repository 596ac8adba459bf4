import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../../src/crypto/encoding.js';
import { createHmacTokenDeriver, deriveTokenKey, IDENTIFIER_TYPES, isIdentifierType, normaliseIdentifier, TOKEN_SALT, type EpochSecret, type IdentifierType } from '../../../src/identifiers/index.js';

interface VectorCase {
  comment: string;
  type: IdentifierType;
  raw: string;
  normalised: string;
  epoch: number;
  secretHex: string;
  keyHex: string;
  tokenHex: string;
}

interface VectorFile {
  comment: string;
  scheme: string;
  saltHex: string;
  cases: VectorCase[];
}

const vectors = JSON.parse(readFileSync(new URL('../../vectors/tokens.json', import.meta.url), 'utf8')) as VectorFile;

function hex(text: string): Uint8Array {
  const bytes = fromHex(text);
  if (bytes === undefined) throw new Error('bad hex in vector file');
  return bytes;
}

const SECRET_A = new Uint8Array(32).fill(0x11);
const SECRET_B = new Uint8Array(32).fill(0x22);

describe('token vectors (test/vectors/tokens.json)', () => {
  it('is well formed and covers every type and more than one epoch', () => {
    expect(vectors.scheme).toBe('jointban-hmac-v1');
    expect(vectors.cases.length).toBeGreaterThanOrEqual(10);
    for (const c of vectors.cases) expect(isIdentifierType(c.type)).toBe(true);
    expect(new Set(vectors.cases.map((c) => c.type))).toEqual(new Set(IDENTIFIER_TYPES));
    expect(new Set(vectors.cases.map((c) => c.epoch)).size).toBeGreaterThanOrEqual(2);
  });

  it('gives the 18- and 15-character forms of one ID number the same token', () => {
    const ids = vectors.cases.filter((c) => c.type === 'national_id' && c.epoch === 1);
    expect(ids.length).toBe(2);
    expect(ids[0]?.tokenHex).toBe(ids[1]?.tokenHex);
    expect(ids[0]?.raw).not.toBe(ids[1]?.raw);
  });

  it('uses the published salt', () => {
    expect(toHex(TOKEN_SALT)).toBe(vectors.saltHex);
  });

  // Every vector's birth date is long past: any clock after 2026 gives the same answers.
  describe.each(vectors.cases)('$type: $comment', (c) => {
    it('normalises raw to the vector normalised form', () => {
      expect(normaliseIdentifier(c.type, c.raw, { defaultRegion: 'CN', now: Date.UTC(2026, 0, 1) })).toEqual({ ok: true, value: c.normalised });
    });

    it('derives the per-type key', () => {
      expect(toHex(deriveTokenKey(hex(c.secretHex), c.epoch, c.type))).toBe(c.keyHex);
    });

    it('derives the token', () => {
      const deriver = createHmacTokenDeriver([{ epoch: c.epoch, secret: hex(c.secretHex) }]);
      expect(deriver.scheme).toBe(vectors.scheme);
      expect(toHex(deriver.derive(c.type, c.normalised, c.epoch))).toBe(c.tokenHex);
    });
  });
});

describe('token separation', () => {
  const deriver = createHmacTokenDeriver([
    { epoch: 1, secret: SECRET_A },
    { epoch: 2, secret: SECRET_B },
  ]);

  it('returns 16 bytes', () => {
    expect(deriver.derive('phone', '+8613800138000', 1)).toHaveLength(16);
  });

  it('is deterministic', () => {
    expect(deriver.derive('email', 'a@example.com', 2)).toEqual(deriver.derive('email', 'a@example.com', 2));
  });

  it('differs between types for the same bytes', () => {
    const value = '+8613800138000';
    const tokens = IDENTIFIER_TYPES.map((type) => toHex(deriver.derive(type, value, 1)));
    expect(new Set(tokens).size).toBe(IDENTIFIER_TYPES.length);
    expect(tokens[0]).not.toBe(tokens[1]); // phone vs email
  });

  it('differs between epochs', () => {
    expect(deriver.derive('phone', '+8613800138000', 1)).not.toEqual(deriver.derive('phone', '+8613800138000', 2));
  });

  it('differs between secrets for the same epoch', () => {
    const other = createHmacTokenDeriver([{ epoch: 1, secret: SECRET_B }]);
    expect(other.derive('phone', '+8613800138000', 1)).not.toEqual(deriver.derive('phone', '+8613800138000', 1));
  });

  it('differs when the value changes by one character', () => {
    expect(deriver.derive('phone', '+8613800138000', 1)).not.toEqual(deriver.derive('phone', '+8613800138001', 1));
  });

  it("does not keep a reference to the caller's secret", () => {
    const secret = new Uint8Array(SECRET_A);
    const d = createHmacTokenDeriver([{ epoch: 7, secret }]);
    const before = d.derive('email', 'a@example.com', 7);
    secret.fill(0);
    expect(d.derive('email', 'a@example.com', 7)).toEqual(before);
  });
});

describe('deriver epochs', () => {
  it('lists epochs ascending whatever the input order', () => {
    const d = createHmacTokenDeriver([
      { epoch: 9, secret: SECRET_A },
      { epoch: 3, secret: SECRET_B },
    ]);
    expect(d.epochs).toEqual([3, 9]);
    expect(Object.isFrozen(d.epochs)).toBe(true);
  });

  it('throws on an epoch it holds no secret for', () => {
    const d = createHmacTokenDeriver([{ epoch: 1, secret: SECRET_A }]);
    expect(() => d.derive('phone', '+8613800138000', 2)).toThrow(RangeError);
  });

  it('throws on an empty or oversized normalised value', () => {
    const d = createHmacTokenDeriver([{ epoch: 1, secret: SECRET_A }]);
    expect(() => d.derive('email', '', 1)).toThrow(RangeError);
    expect(() => d.derive('payment_account', 'x'.repeat(0x10000), 1)).toThrow(RangeError);
    expect(() => d.derive('payment_account', 'x'.repeat(0xffff), 1)).not.toThrow();
  });
});

describe('deriver construction rejects bad epoch secrets', () => {
  const bad: [string, EpochSecret[]][] = [
    ['no epochs', []],
    ['epoch 0', [{ epoch: 0, secret: SECRET_A }]],
    ['negative epoch', [{ epoch: -1, secret: SECRET_A }]],
    ['fractional epoch', [{ epoch: 1.5, secret: SECRET_A }]],
    ['epoch 2^32', [{ epoch: 2 ** 32, secret: SECRET_A }]],
    ['NaN epoch', [{ epoch: Number.NaN, secret: SECRET_A }]],
    ['31-byte secret', [{ epoch: 1, secret: new Uint8Array(31) }]],
    ['33-byte secret', [{ epoch: 1, secret: new Uint8Array(33) }]],
    [
      'duplicate epoch',
      [
        { epoch: 1, secret: SECRET_A },
        { epoch: 1, secret: SECRET_B },
      ],
    ],
  ];
  it.each(bad)('%s', (_name, epochs) => {
    expect(() => createHmacTokenDeriver(epochs)).toThrow(RangeError);
  });

  it('accepts epoch 2^32-1', () => {
    expect(createHmacTokenDeriver([{ epoch: 2 ** 32 - 1, secret: SECRET_A }]).epochs).toEqual([2 ** 32 - 1]);
  });

  it('never puts the secret in an error message', () => {
    const secret = utf8('a secret that is not 32 bytes!');
    try {
      createHmacTokenDeriver([{ epoch: 1, secret }]);
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain(toHex(secret));
      expect(String(error)).not.toContain('a secret');
    }
  });
});
