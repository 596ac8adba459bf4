/**
 * The check_volume_jump rule (src/audit/check-volume.ts) with exact counts: the minimum, the
 * factor over the median of the 14 days before (days without checks count as 0), the window, keys
 * kept apart, rows of one day summed, and the anomaly text.
 */
import { describe, expect, it } from 'vitest';
import { CHECK_VOLUME_BASELINE_DAYS, CHECK_VOLUME_FACTOR, CHECK_VOLUME_MIN, checkVolumeAnomalies, detectCheckVolumeJumps } from '../../../src/audit/check-volume.js';
import { addDays } from '../../../src/audit/window.js';
import type { KeyDayCount } from '../../../src/store/check-count-repository.js';

const DAY = '2025-03-20';

/** `perDay` identifiers tested on each of the `days` days before DAY, then `onDay` on DAY. */
function history(keyId: string, perDay: number, onDay: number, days = CHECK_VOLUME_BASELINE_DAYS): KeyDayCount[] {
  const rows = Array.from({ length: days }, (_, i) => ({ keyId, day: addDays(DAY, -(i + 1)), identifiers: perDay }));
  return [...rows, { keyId, day: DAY, identifiers: onDay }];
}

const detect = (counts: KeyDayCount[], first = DAY, last = DAY) => detectCheckVolumeJumps(counts, first, last);

describe('the constants are the documented ones', () => {
  it('1000 checks, 10 × the median of 14 days', () => {
    expect([CHECK_VOLUME_MIN, CHECK_VOLUME_FACTOR, CHECK_VOLUME_BASELINE_DAYS]).toEqual([1000, 10, 14]);
  });
});

describe('a key with no checks before', () => {
  it('is flagged from 1000 checks in a day, not at 999', () => {
    expect(detect([{ keyId: 'k', day: DAY, identifiers: 999 }])).toEqual([]);
    expect(detect([{ keyId: 'k', day: DAY, identifiers: 1000 }])).toEqual([{ keyId: 'k', day: DAY, identifiers: 1000, baselinePerDay: 0 }]);
  });
});

describe('a key with a steady baseline', () => {
  it('200 a day: flagged at 2000 (10 × 200), not at 1999', () => {
    expect(detect(history('k', 200, 1999))).toEqual([]);
    expect(detect(history('k', 200, 2000))).toEqual([{ keyId: 'k', day: DAY, identifiers: 2000, baselinePerDay: 200 }]);
  });

  it('50 a day: the minimum decides, so 1000 is flagged though 10 × 50 is 500', () => {
    expect(detect(history('k', 50, 999))).toEqual([]);
    expect(detect(history('k', 50, 1000))).toEqual([{ keyId: 'k', day: DAY, identifiers: 1000, baselinePerDay: 50 }]);
  });

  it('5000 a day: 49 999 is not a jump, 50 000 is', () => {
    expect(detect(history('k', 5000, 49_999))).toEqual([]);
    expect(detect(history('k', 5000, 50_000))).toHaveLength(1);
  });
});

describe('the baseline is the median of the 14 days before, days without checks counting as 0', () => {
  it('7 active days of 300 and 7 idle ones: median (0 + 300) / 2 = 150, threshold 1500', () => {
    const counts = history('k', 300, 1499, 7);
    expect(detect(counts)).toEqual([]);
    counts[counts.length - 1] = { keyId: 'k', day: DAY, identifiers: 1500 };
    expect(detect(counts)).toEqual([{ keyId: 'k', day: DAY, identifiers: 1500, baselinePerDay: 150 }]);
  });

  it('8 active days of 300: median 300, threshold 3000', () => {
    expect(detect(history('k', 300, 2999, 8))).toEqual([]);
    expect(detect(history('k', 300, 3000, 8))).toEqual([{ keyId: 'k', day: DAY, identifiers: 3000, baselinePerDay: 300 }]);
  });

  it('ignores days more than 14 days before', () => {
    const old = Array.from({ length: 10 }, (_, i) => ({ keyId: 'k', day: addDays(DAY, -(15 + i)), identifiers: 100_000 }));
    expect(detect([...old, { keyId: 'k', day: DAY, identifiers: 1000 }])).toEqual([{ keyId: 'k', day: DAY, identifiers: 1000, baselinePerDay: 0 }]);
  });

  it('counts the day itself out of its own baseline, and sums rows of one key and day', () => {
    const counts = [...history('k', 100, 600), { keyId: 'k', day: DAY, identifiers: 400 }];
    expect(detect(counts)).toEqual([{ keyId: 'k', day: DAY, identifiers: 1000, baselinePerDay: 100 }]);
  });
});

describe('windows and keys', () => {
  it('reports only days inside firstDay … lastDay, in day then key order', () => {
    const counts: KeyDayCount[] = [
      { keyId: 'b', day: '2025-03-02', identifiers: 1000 },
      { keyId: 'a', day: '2025-03-02', identifiers: 1000 },
      { keyId: 'a', day: '2025-03-01', identifiers: 1000 },
      { keyId: 'a', day: '2025-02-28', identifiers: 5000 },
      { keyId: 'a', day: '2025-04-01', identifiers: 5000 },
    ];
    expect(detect(counts, '2025-03-01', '2025-03-31').map((j) => `${j.day} ${j.keyId} ${j.baselinePerDay}`)).toEqual([
      // 03-01 has a baseline of 0: 02-28 is one day of 14, so the median is 0.
      '2025-03-01 a 0',
      '2025-03-02 a 0',
      '2025-03-02 b 0',
    ]);
  });

  it('keeps keys apart: one key’s volume is not another’s baseline', () => {
    const counts = [...history('busy', 5000, 5000), { keyId: 'new', day: DAY, identifiers: 1200 }];
    expect(detect(counts)).toEqual([{ keyId: 'new', day: DAY, identifiers: 1200, baselinePerDay: 0 }]);
  });
});

describe('checkVolumeAnomalies', () => {
  it('names the key, the count, the day, the baseline and the threshold', () => {
    expect(
      checkVolumeAnomalies('alpha', [
        { keyId: 'AbCdEfGhIjKl', day: DAY, identifiers: 2500, baselinePerDay: 200 },
        { keyId: '', day: DAY, identifiers: 1000, baselinePerDay: 0 },
      ]),
    ).toEqual([
      { member: 'alpha', kind: 'check_volume_jump', detail: 'API key AbCdEfGhIjKl: 2500 identifiers tested (checks and watch enrolments) on 2025-03-20; baseline 200 per day (threshold 2000)' },
      { member: 'alpha', kind: 'check_volume_jump', detail: 'the command line (no API key): 1000 identifiers tested (checks and watch enrolments) on 2025-03-20; baseline 0 per day (threshold 1000)' },
    ]);
  });
});
