/**
 * `isSameBan` (service/reconnect.ts): when a platform's row is the ban an own listing without a
 * reference records. Pure: a listing row and its tokens against the row's tokens and ban.
 */
import { describe, expect, it } from 'vitest';
import { banOf, isSameBan, tokenKey } from '../../../src/service/reconnect.js';
import type { ListingRow } from '../../../src/store/listing-repository.js';

const HEX_A = 'aa'.repeat(16);
const HEX_B = 'bb'.repeat(16);
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));

const row: ListingRow = {
  id: 'alpha:4',
  origin: 'alpha',
  seq: 4,
  category: 'fraud',
  severity: 'severe',
  listed_at: '2026-12-01T00:00:00.000Z',
  banned_at: '2026-11-30T00:00:00.000Z',
  ban_until: null,
  expires_at: '2029-11-30T00:00:00.000Z',
  evidence_digest: null,
  status: 'active',
  retracted_at: null,
  retraction_reason: null,
  retraction_seq: null,
  reference: null,
};
const held = [
  { type: 'phone', epoch: 1, token: bytes(HEX_A) },
  { type: 'email', epoch: 1, token: bytes(HEX_B) },
];
const want = (over: Partial<Parameters<typeof isSameBan>[2]> = {}) => ({
  tokens: new Set([tokenKey({ type: 'phone', epoch: 1, hex: HEX_A }), tokenKey({ type: 'email', epoch: 1, hex: HEX_B })]),
  category: 'fraud',
  banUntil: null,
  bannedAt: undefined,
  ...over,
});

describe('isSameBan', () => {
  it('matches the same tokens, category and ban end; any start when the row gives none', () => {
    expect(isSameBan(row, held, want())).toBe(true);
  });
  it('matches the same start given in another time zone', () => {
    expect(isSameBan(row, held, want({ bannedAt: '2026-11-30T08:00:00+08:00' }))).toBe(true);
    expect(isSameBan(row, held, want({ bannedAt: '2026-11-29T00:00:00Z' }))).toBe(false);
  });
  it('refuses another category or another ban end', () => {
    expect(isSameBan(row, held, want({ category: 'violence' }))).toBe(false);
    expect(isSameBan(row, held, want({ banUntil: '2030-01-01T00:00:00Z' }))).toBe(false);
    expect(isSameBan({ ...row, ban_until: '2030-01-01T00:00:00.000Z' }, held, want({ banUntil: '2030-01-01T08:00:00+08:00' }))).toBe(true);
  });
  it('refuses a subset or a superset of the tokens', () => {
    expect(isSameBan(row, held, want({ tokens: new Set([tokenKey({ type: 'phone', epoch: 1, hex: HEX_A })]) }))).toBe(false);
    expect(isSameBan(row, held.slice(0, 1), want())).toBe(false);
    expect(isSameBan(row, [], want({ tokens: new Set() }))).toBe(false);
  });
  it("compares under the listing's own epochs: tokens of other epochs in the row are ignored", () => {
    const both = new Set([...want().tokens, tokenKey({ type: 'phone', epoch: 2, hex: 'cc'.repeat(16) })]);
    expect(isSameBan(row, held, want({ tokens: both }))).toBe(true);
    const onlyNewer = new Set([tokenKey({ type: 'phone', epoch: 2, hex: HEX_A }), tokenKey({ type: 'email', epoch: 2, hex: HEX_B })]);
    expect(isSameBan(row, held, want({ tokens: onlyNewer }))).toBe(false);
  });
  it('ignores tokens of an epoch the listing carries but the row was not derived under (retired since)', () => {
    const withRetired = [...held, { type: 'phone', epoch: 0, token: bytes('dd'.repeat(16)) }];
    expect(isSameBan(row, withRetired, want())).toBe(true);
    expect(isSameBan(row, [{ type: 'phone', epoch: 0, token: bytes('dd'.repeat(16)) }], want())).toBe(false);
  });
  it('banOf takes the ban of a prepared entry, with its start only when the input named one', () => {
    const entry = { tokens: [{ type: 'phone', epoch: 1, token: HEX_A }], category: 'fraud', banUntil: null, bannedAt: '2026-11-30T00:00:00.000Z' };
    expect(banOf(entry, false)).toEqual({ tokens: new Set([`phone/1/${HEX_A}`]), category: 'fraud', banUntil: null, bannedAt: undefined });
    expect(banOf(entry, true).bannedAt).toBe('2026-11-30T00:00:00.000Z');
  });
});
