/**
 * Bulk rows → listings and users (src/jobs/rows.ts): what each format accepts, how it
 * maps to the API's input, and that every reason names a field without ever echoing its content.
 */
import { describe, expect, it } from 'vitest';
import { listingFromRow, userFromRow, type RowRules } from '../../src/jobs/rows.js';
import type { SourceRow } from '../../src/jobs/row-source.js';

const RULES: RowRules = { categories: ['fraud', 'doxxing'], maxIdentifiers: 3 };
const SECRET = '13800138000';

const json = (value: unknown): Extract<SourceRow, { ok: true }> => ({ row: 1, ok: true, format: 'jsonl', value });
const csv = (cells: Record<string, string>): Extract<SourceRow, { ok: true }> => ({ row: 2, ok: true, format: 'csv', cells: new Map(Object.entries(cells)) });
const listing = (over: Record<string, unknown> = {}) => ({ reference: 'u1', identifiers: [{ type: 'phone', value: SECRET }], category: 'fraud', banUntil: null, ...over });
const cells = (over: Record<string, string> = {}) => ({ reference: 'u1', category: 'fraud', ban_until: '', phone: SECRET, ...over });

function reasonOf(result: { ok: true } | { ok: false; reason: string }): string {
  if (result.ok) throw new Error('expected a rejected row');
  return result.reason;
}

describe('JSON Lines listings', () => {
  it('maps a row to the API input, severity defaulting to severe', () => {
    expect(listingFromRow(json(listing({ bannedAt: '2024-05-01T08:00:00+08:00', evidenceDigest: `sha256:${'a'.repeat(64)}` })), RULES)).toEqual({
      ok: true,
      value: {
        reference: 'u1',
        identifiers: [{ type: 'phone', value: SECRET }],
        category: 'fraud',
        severity: 'severe',
        bannedAt: '2024-05-01T08:00:00+08:00',
        banUntil: null,
        expiresAt: undefined,
        evidenceDigest: `sha256:${'a'.repeat(64)}`,
      },
    });
  });

  it.each([
    ['not an object', [SECRET], 'not a JSON object'],
    ['an unknown field', listing({ [SECRET]: 1 }), 'unknown field (the fields are reference, identifiers, category, severity, bannedAt, banUntil, expiresAt, evidenceDigest)'],
    ['no reference', listing({ reference: undefined }), 'reference: required, a string of 1 to 128 characters'],
    ['a numeric reference', listing({ reference: 7 }), 'reference: required, a string of 1 to 128 characters'],
    ['a long reference', listing({ reference: 'r'.repeat(129) }), 'reference: required, a string of 1 to 128 characters'],
    ['no identifiers', listing({ identifiers: [] }), 'identifiers: none given, at least one is required'],
    ['too many identifiers', listing({ identifiers: Array(4).fill({ type: 'phone', value: SECRET }) }), 'identifiers: at most 3 per row (http.maxIdentifiersPerRequest)'],
    ['an unknown type', listing({ identifiers: [{ type: SECRET, value: SECRET }] }), 'identifiers[0].type: must be one of phone, email, national_id, device_id, payment_account'],
    ['an extra identifier field', listing({ identifiers: [{ type: 'phone', value: SECRET, note: SECRET }] }), 'identifiers[0]: unknown field (the fields are type, value)'],
    ['a numeric value', listing({ identifiers: [{ type: 'phone', value: 13800138000 }] }), 'identifiers[0] (phone): the value must be a string'],
    ['an empty value', listing({ identifiers: [{ type: 'email', value: '' }] }), 'identifiers[0] (email): the value must be 1 to 1024 characters'],
    ['a category not configured', listing({ category: SECRET }), 'category: must be one of fraud, doxxing'],
    ['another severity', listing({ severity: 'minor' }), 'severity: only "severe" listings are shared'],
    ['no banUntil', listing({ banUntil: undefined }), 'banUntil: required (null for a permanent ban)'],
    ['a date without a time zone', listing({ banUntil: '2030-01-01T00:00:00' }), 'banUntil: must be a date-time with a time zone, like 2024-05-01T08:00:00+08:00'],
    ['a date that is a phone number', listing({ bannedAt: SECRET }), 'bannedAt: must be a date-time with a time zone, like 2024-05-01T08:00:00+08:00'],
    ['a bad digest', listing({ evidenceDigest: 'md5:00' }), 'evidenceDigest: must be "sha256:" followed by 64 lower-case hex characters'],
  ])('rejects %s, without echoing it', (_, value, reason) => {
    const got = reasonOf(listingFromRow(json(JSON.parse(JSON.stringify(value)) as unknown), RULES));
    expect(got).toBe(reason);
    expect(got).not.toContain(SECRET);
  });
});

describe('CSV listings', () => {
  it('splits identifier cells on |, in the fixed column order, and reads an empty ban_until as permanent', () => {
    const result = listingFromRow(csv(cells({ email: 'a@example.org | b@example.org', phone: `${SECRET}|`, payment_account: 'alipay:1', ban_until: '' })), { ...RULES, maxIdentifiers: 4 });
    expect(result).toMatchObject({
      ok: true,
      value: {
        banUntil: null,
        bannedAt: undefined,
        identifiers: [
          { type: 'phone', value: SECRET },
          { type: 'email', value: 'a@example.org' },
          { type: 'email', value: 'b@example.org' },
          { type: 'payment_account', value: 'alipay:1' },
        ],
      },
    });
  });

  it.each([
    ['an empty reference', cells({ reference: '' }), 'reference: required, a string of 1 to 128 characters'],
    ['no identifiers', cells({ phone: ' | ' }), 'identifiers: none given, at least one is required'],
    ['a bad ban_until', cells({ ban_until: SECRET }), 'ban_until: must be a date-time with a time zone, like 2024-05-01T08:00:00+08:00'],
    ['a bad category', cells({ category: SECRET }), 'category: must be one of fraud, doxxing'],
    ['a severity column saying minor', cells({ severity: 'minor' }), 'severity: only "severe" listings are shared'],
    ['a bad evidence digest', cells({ evidence_digest: SECRET }), 'evidence_digest: must be "sha256:" followed by 64 lower-case hex characters'],
    ['too long a value', cells({ email: 'x'.repeat(1025) }), 'identifiers[1] (email): the value must be 1 to 1024 characters'],
  ])('rejects %s, without echoing it', (_, row, reason) => {
    const got = reasonOf(listingFromRow(csv(row), RULES));
    expect(got).toBe(reason);
    expect(got).not.toContain(SECRET);
  });
});

describe('rescan users', () => {
  it('reads a reference and identifiers from either format', () => {
    const want = { ok: true, value: { reference: 'u9', identifiers: [{ type: 'phone', value: SECRET }] } };
    expect(userFromRow(json({ reference: 'u9', identifiers: [{ type: 'phone', value: SECRET }] }), RULES)).toEqual(want);
    expect(userFromRow(csv({ reference: 'u9', phone: SECRET, email: '' }), RULES)).toEqual(want);
  });

  it('rejects listing fields and users without identifiers', () => {
    expect(reasonOf(userFromRow(json({ reference: 'u9', identifiers: [], category: 'fraud' }), RULES))).toBe('unknown field (the fields are reference, identifiers)');
    expect(reasonOf(userFromRow(csv({ reference: 'u9', phone: '' }), RULES))).toBe('identifiers: none given, at least one is required');
  });
});
