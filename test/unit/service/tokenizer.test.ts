/** The Tokenizer's two spellings of one derivation: with hex (listings) and without (the check). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/crypto/encoding.js';
import { createHmacTokenDeriver, type IdentifierType } from '../../../src/identifiers/index.js';
import { Tokenizer } from '../../../src/service/tokenizer.js';

interface VectorCase {
  type: IdentifierType;
  raw: string;
  epoch: number;
  secretHex: string;
  tokenHex: string;
}

const vectors = JSON.parse(readFileSync(new URL('../../vectors/tokens.json', import.meta.url), 'utf8')) as { cases: VectorCase[] };

const tokenizer = new Tokenizer(
  createHmacTokenDeriver([
    { epoch: 1, secret: new Uint8Array(32).fill(0x11) },
    { epoch: 2, secret: new Uint8Array(32).fill(0x22) },
  ]),
  'CN',
);

const IDS = [
  { type: 'phone' as const, value: '+86 138-1234-5678' },
  { type: 'email' as const, value: 'Zhang.Wei@Example.org' },
  { type: 'phone' as const, value: '13812345678' },
  { type: 'national_id' as const, value: '11010519491231002X' },
  { type: 'email' as const, value: ' zhang.wei@EXAMPLE.ORG' },
  { type: 'device_id' as const, value: '490154203237518' },
];

describe('Tokenizer.tokensForCheck', () => {
  it('gives the tokens of tokensFor, in the same order, without their hex', () => {
    const withHex = tokenizer.tokensFor(IDS);
    const bare = tokenizer.tokensForCheck(IDS);
    expect(bare.map((t) => ({ ...t, token: toHex(t.token) }))).toEqual(withHex.map((t) => ({ type: t.type, epoch: t.epoch, token: t.hex })));
    for (const t of withHex) expect(toHex(t.token)).toBe(t.hex);
  });

  it('collapses spellings of one identifier to one token per epoch, and keeps every epoch', () => {
    const tokens = tokenizer.tokensForCheck(IDS);
    // Four distinct identifiers (two phones and two emails are one each), under two epochs.
    expect(tokens).toHaveLength(8);
    expect(new Set(tokens.map((t) => `${t.type}/${t.epoch}/${toHex(t.token)}`)).size).toBe(8);
    expect(tokenizer.tokensForCheck(IDS, [2]).map((t) => t.epoch)).toEqual([2, 2, 2, 2]);
  });

  it('derives the vector tokens', () => {
    for (const c of vectors.cases) {
      const single = new Tokenizer(createHmacTokenDeriver([{ epoch: c.epoch, secret: fromHex(c.secretHex)! }]), 'CN');
      expect(toHex(single.tokensForCheck([{ type: c.type, value: c.raw }])[0]!.token)).toBe(c.tokenHex);
    }
  });

  it('names an invalid identifier by index and type, never by value', () => {
    expect(() => tokenizer.tokensForCheck([IDS[0]!, { type: 'national_id', value: '110105194912310021' }])).toThrow(/^identifiers\[1\] \(national_id\): /);
    expect(() => tokenizer.tokensForCheck([{ type: 'national_id', value: '110105194912310021' }])).not.toThrow(/110105/);
  });
});

describe('Tokenizer.tokensForListing', () => {
  it('derives every identifier under every epoch held, as a check does, so a listing made during an overlap matches at nodes holding either', () => {
    expect(tokenizer.newestEpoch).toBe(2);
    const listing = tokenizer.tokensForListing(IDS);
    expect(listing.map((t) => ({ type: t.type, epoch: t.epoch, hex: t.hex }))).toEqual(tokenizer.tokensFor(IDS).map((t) => ({ type: t.type, epoch: t.epoch, hex: t.hex })));
    expect(new Set(listing.map((t) => t.epoch))).toEqual(new Set([1, 2]));
    // A node still on epoch 1 alone derives exactly the epoch-1 tokens of the listing.
    const old = new Tokenizer(createHmacTokenDeriver([{ epoch: 1, secret: new Uint8Array(32).fill(0x11) }]), 'CN');
    expect(old.tokensForCheck(IDS).map((t) => toHex(t.token))).toEqual(listing.filter((t) => t.epoch === 1).map((t) => t.hex));
  });
});
