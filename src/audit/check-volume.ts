/**
 * The `check_volume_jump` anomaly (docs/AUDIT.md, "Anomalies"; docs/SECURITY.md): an API key whose
 * identifier tests on one day jump far above its own usual volume. Enumeration needs many tests,
 * and a platform's registration traffic is steady, so a key that suddenly tests ten times its
 * usual volume (a leaked key, a script run by an insider) is something an auditor should see.
 * Identifiers, not requests, are counted, through every route that tests them (checks of every
 * purpose and watch enrolments): a check of 16 identifiers is 16 tests, and a watch request of
 * 1,000 references thousands. A pure function over the per-key daily counts of `check_counts`;
 * the thresholds are named constants.
 */
import { NO_KEY_ID } from '../service/check-counter.js';
import type { KeyDayCount } from '../store/check-count-repository.js';
import type { Anomaly } from './report-types.js';
import { median } from './rules.js';
import { addDays } from './window.js';

/** A day is a jump only from this many identifiers tested: a key that tests 5 a day is not flagged at 50. */
export const CHECK_VOLUME_MIN = 1000;
/** … and when the day's checks reach this multiple of the key's baseline … */
export const CHECK_VOLUME_FACTOR = 10;
/** … the median of the key's daily identifiers tested over this many days before (days without tests count as 0). */
export const CHECK_VOLUME_BASELINE_DAYS = 14;

export interface CheckVolumeJump {
  keyId: string;
  day: string;
  /** Identifiers the key tested that day. */
  identifiers: number;
  /** The key's median identifiers tested per day over the CHECK_VOLUME_BASELINE_DAYS days before `day`. */
  baselinePerDay: number;
}

/**
 * The jumps on the days firstDay … lastDay (inclusive): days whose identifiers tested are
 * ≥ max(CHECK_VOLUME_MIN, CHECK_VOLUME_FACTOR × baseline), from the identifiers tested per key and
 * day (rows of one key and day, e.g. one per purpose and one for watch, are summed). `counts` must reach back
 * CHECK_VOLUME_BASELINE_DAYS days before `firstDay` for the baselines to be complete. A key first
 * used inside the window has a baseline of 0, so its threshold is CHECK_VOLUME_MIN. Ordered by
 * day, then key id.
 */
export function detectCheckVolumeJumps(counts: readonly KeyDayCount[], firstDay: string, lastDay: string): CheckVolumeJump[] {
  const byKey = new Map<string, Map<string, number>>();
  for (const c of counts) {
    let days = byKey.get(c.keyId);
    if (!days) byKey.set(c.keyId, (days = new Map()));
    days.set(c.day, (days.get(c.day) ?? 0) + c.identifiers);
  }
  const jumps: CheckVolumeJump[] = [];
  for (const [keyId, days] of byKey) {
    for (const [day, identifiers] of days) {
      if (day < firstDay || day > lastDay || identifiers < CHECK_VOLUME_MIN) continue;
      const before: number[] = [];
      for (let i = 1; i <= CHECK_VOLUME_BASELINE_DAYS; i++) before.push(days.get(addDays(day, -i)) ?? 0);
      const baseline = median(before) ?? 0;
      if (identifiers >= Math.max(CHECK_VOLUME_MIN, CHECK_VOLUME_FACTOR * baseline)) jumps.push({ keyId, day, identifiers, baselinePerDay: baseline });
    }
  }
  return jumps.sort((a, b) => (a.day !== b.day ? (a.day < b.day ? -1 : 1) : a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
}

/** One anomaly per jump, on the row of the node's own member (check counts are the node's own). */
export function checkVolumeAnomalies(member: string, jumps: readonly CheckVolumeJump[]): Anomaly[] {
  return jumps.map((j) => ({
    member,
    kind: 'check_volume_jump',
    detail: `${j.keyId === NO_KEY_ID ? 'the command line (no API key)' : `API key ${j.keyId}`}: ${j.identifiers} identifiers tested (checks and watch enrolments) on ${j.day}; baseline ${j.baselinePerDay} per day (threshold ${Math.max(CHECK_VOLUME_MIN, CHECK_VOLUME_FACTOR * j.baselinePerDay)})`,
  }));
}
