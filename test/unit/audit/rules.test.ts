/** The audit rules on plain numbers: median, bursts against the member's own baseline, anomalies. */
import { describe, expect, it } from 'vitest';
import type { MemberStats } from '../../../src/audit/report-types.js';
import { BURST_MIN_LISTINGS, detectBursts, median, memberAnomalies, misbehaviourAnomalies, round } from '../../../src/audit/rules.js';
import { addDays } from '../../../src/audit/window.js';

describe('median', () => {
  it.each([
    [[], null],
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[10, 10, 1, 1], 5.5],
  ])('median(%j) = %j', (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('round', () => {
  it('rounds to the places asked and keeps null', () => {
    expect(round(1 / 3, 4)).toBe(0.3333);
    expect(round(2 / 3, 2)).toBe(0.67);
    expect(round(null, 2)).toBeNull();
  });
});

/** Listings per day from `start`: counts[i] is day start + i. */
function series(start: string, counts: number[]): Map<string, number> {
  return new Map(counts.map((n, i) => [addDays(start, i), n] as [string, number]).filter(([, n]) => n > 0));
}

describe('detectBursts', () => {
  it('flags a day of at least 10 listings from a member with no history', () => {
    const days = new Map([['2025-03-10', 10]]);
    expect(detectBursts(days, days)).toEqual([{ day: '2025-03-10', listings: 10, baselinePerDay: 0 }]);
  });

  it('does not flag 9 listings, however low the baseline', () => {
    const history = series('2025-02-20', [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 9]);
    const day = addDays('2025-02-20', 18);
    expect(detectBursts(new Map([[day, 9]]), history)).toEqual([]);
    expect(BURST_MIN_LISTINGS).toBe(10);
  });

  it('compares with 5 × the median of the active days among the 30 before', () => {
    // 30 days before 2025-04-01: active days with 4, 4, 4, 2, 6 listings → median 4 → threshold 20.
    const history = series('2025-03-02', [4, 0, 4, 0, 4, 0, 2, 0, 6]);
    history.set('2025-04-01', 20);
    history.set('2025-04-02', 19);
    const days = new Map([
      ['2025-04-01', 20],
      ['2025-04-02', 19],
    ]);
    // 04-02's 30 days (03-03 … 04-01) hold 4, 4, 2, 6 and 20 → median 4 → threshold 20: 19 is not a burst.
    expect(detectBursts(days, history)).toEqual([{ day: '2025-04-01', listings: 20, baselinePerDay: 4 }]);
  });

  it('ignores activity more than 30 days before', () => {
    const history = new Map([
      ['2025-01-01', 100],
      ['2025-03-01', 12],
    ]);
    // 2025-01-01 is 59 days before: the baseline is empty (0), so 12 ≥ 10 is a burst.
    expect(detectBursts(new Map([['2025-03-01', 12]]), history)).toEqual([{ day: '2025-03-01', listings: 12, baselinePerDay: 0 }]);
    history.set('2025-01-30', 100); // 30 days before: counts, threshold 500
    expect(detectBursts(new Map([['2025-03-01', 12]]), history)).toEqual([]);
  });
});

function stats(overrides: Partial<MemberStats>): MemberStats {
  return {
    member: 'alpha',
    listings: 10,
    listingsByCategory: {},
    listingsByIdentifierType: {},
    retractions: 0,
    retractionRate: 0,
    medianHoursToRetraction: null,
    corroborated: 0,
    withoutEvidenceDigest: 0,
    bursts: [],
    daily: [],
    checks: null,
    ...overrides,
  };
}

describe('memberAnomalies', () => {
  it('flags a retraction rate of 20% from 10 listings, not 19% or fewer listings', () => {
    expect(memberAnomalies(stats({ listings: 10 }), 2).map((a) => a.kind)).toEqual(['high_retraction_rate']);
    expect(memberAnomalies(stats({ listings: 15 }), 3).map((a) => a.kind)).toEqual(['high_retraction_rate']);
    expect(memberAnomalies(stats({ listings: 100 }), 19)).toEqual([]);
    expect(memberAnomalies(stats({ listings: 9 }), 9)).toEqual([]);
  });

  it('flags half or more listings without an evidence digest, from 10 listings', () => {
    expect(memberAnomalies(stats({ listings: 10, withoutEvidenceDigest: 5 }), 0).map((a) => a.kind)).toEqual(['missing_evidence']);
    expect(memberAnomalies(stats({ listings: 10, withoutEvidenceDigest: 4 }), 0)).toEqual([]);
    expect(memberAnomalies(stats({ listings: 9, withoutEvidenceDigest: 9 }), 0)).toEqual([]);
  });

  it('reports each burst, in a fixed order after the retraction rule', () => {
    const bursts = [
      { day: '2025-01-02', listings: 10, baselinePerDay: 0 },
      { day: '2025-01-05', listings: 30, baselinePerDay: 2 },
    ];
    const anomalies = memberAnomalies(stats({ listings: 40, bursts, withoutEvidenceDigest: 40 }), 10);
    expect(anomalies.map((a) => a.kind)).toEqual(['high_retraction_rate', 'burst', 'burst', 'missing_evidence']);
    expect(anomalies[2]!.detail).toContain('2025-01-05');
  });
});

describe('misbehaviourAnomalies', () => {
  it('gives one anomaly per origin and kind, with the count', () => {
    expect(misbehaviourAnomalies([{ origin: 'beta', kind: 'equivocation', count: 2 }])).toEqual([{ member: 'beta', kind: 'misbehaviour', detail: '2 equivocation records detected by this node' }]);
  });
});
