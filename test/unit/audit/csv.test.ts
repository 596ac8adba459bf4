/** RFC 4180 fields and rows (common/csv.ts) and the audit report in them (audit/report-csv.ts): quoting, line ends, nulls and the column set. */
import { describe, expect, it } from 'vitest';
import { reportToCsv } from '../../../src/audit/report-csv.js';
import { csvField, csvRow } from '../../../src/common/csv.js';
import type { AuditReport, MemberStats } from '../../../src/audit/report-types.js';

describe('csvField', () => {
  it.each([
    ['plain', 'plain'],
    ['', ''],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['"', '""""'],
    ['line\nbreak', '"line\nbreak"'],
    ['cr\rhere', '"cr\rhere"'],
    ['crlf\r\n', '"crlf\r\n"'],
    ['semi;colon and space', 'semi;colon and space'],
  ])('%j → %j', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it('writes numbers as they are and null as an empty field', () => {
    expect(csvField(0)).toBe('0');
    expect(csvField(0.25)).toBe('0.25');
    expect(csvField(null)).toBe('');
  });

  it('joins a row with commas and ends it with CRLF', () => {
    expect(csvRow(['a', 1, null, 'x,y'])).toBe('a,1,,"x,y"\r\n');
  });
});

function member(overrides: Partial<MemberStats>): MemberStats {
  return {
    member: 'alpha',
    listings: 0,
    listingsByCategory: { fraud: 0, rumor: 0 },
    listingsByIdentifierType: { email: 0, phone: 0 },
    retractions: 0,
    retractionRate: null,
    medianHoursToRetraction: null,
    corroborated: 0,
    withoutEvidenceDigest: 0,
    bursts: [],
    daily: [],
    checks: null,
    ...overrides,
  };
}

const report: AuditReport = {
  federation: 'jointban.example',
  node: 'alpha',
  generatedAt: '2025-06-01T00:00:00.000Z',
  from: '2025-01-01T00:00:00.000Z',
  to: '2025-06-01T00:00:00.000Z',
  members: [
    member({
      listings: 12,
      listingsByCategory: { fraud: 10, rumor: 2 },
      listingsByIdentifierType: { email: 3, phone: 12 },
      retractions: 3,
      retractionRate: 0.25,
      medianHoursToRetraction: 1.5,
      bursts: [{ day: '2025-02-01', listings: 11, baselinePerDay: 0 }],
      checks: [
        { purpose: 'registration', served: 4, identifiers: 9, hits: 1, hitRate: 0.25 },
        { purpose: 'monetization', served: 0, identifiers: 0, hits: 0, hitRate: null },
        { purpose: 'watch', served: 2, identifiers: 1500, hits: 3, hitRate: null },
      ],
    }),
    member({ member: 'beta', listingsByCategory: { fraud: 0, rumor: 0, other_severe: 0 } }),
  ],
  anomalies: [
    { member: 'alpha', kind: 'high_retraction_rate', detail: '3 of 12' },
    { member: 'alpha', kind: 'burst', detail: 'x' },
  ],
};

describe('reportToCsv', () => {
  const csv = reportToCsv(report);
  const lines = csv.split('\r\n');

  it('has a header, one row per member and a final CRLF', () => {
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(csv.includes('\n') && !/[^\r]\n/.test(csv)).toBe(true);
  });

  it('names every column, categories and types from every member, and checks per purpose', () => {
    expect(lines[0]!.split(',')).toEqual([
      'federation',
      'node',
      'from',
      'to',
      'generated_at',
      'member',
      'listings',
      'retractions',
      'retraction_rate',
      'median_hours_to_retraction',
      'corroborated',
      'without_evidence_digest',
      'bursts',
      'burst_days',
      'anomalies',
      'listings_by_category.fraud',
      'listings_by_category.other_severe',
      'listings_by_category.rumor',
      'listings_by_identifier_type.email',
      'listings_by_identifier_type.phone',
      'checks.registration.served',
      'checks.registration.identifiers',
      'checks.registration.hits',
      'checks.registration.hit_rate',
      'checks.monetization.served',
      'checks.monetization.identifiers',
      'checks.monetization.hits',
      'checks.monetization.hit_rate',
      'checks.watch.served',
      'checks.watch.identifiers',
      'checks.watch.hits',
      'checks.watch.hit_rate',
    ]);
  });

  it('writes the values, with empty fields for null and for another member’s checks', () => {
    expect(lines[1]).toBe(
      'jointban.example,alpha,2025-01-01T00:00:00.000Z,2025-06-01T00:00:00.000Z,2025-06-01T00:00:00.000Z,alpha,12,3,0.25,1.5,0,0,1,2025-02-01,high_retraction_rate burst,10,0,2,3,12,4,9,1,0.25,0,0,0,,2,1500,3,',
    );
    expect(lines[2]).toBe('jointban.example,alpha,2025-01-01T00:00:00.000Z,2025-06-01T00:00:00.000Z,2025-06-01T00:00:00.000Z,beta,0,0,,,0,0,0,,,0,0,0,0,0,,,,,,,,,,,,');
  });
});
