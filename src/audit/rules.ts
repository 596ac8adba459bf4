/**
 * The audit rules, as pure functions over counts: the median, burst detection and the anomaly
 * rules, with every threshold a named constant. docs/AUDIT.md states the same rules in words; a
 * change here is a change there.
 */
import type { Anomaly, Burst, MemberStats } from './report-types.js';
import { addDays } from './window.js';

/** A day is a burst when its listings reach BURST_FACTOR × the member's baseline … */
export const BURST_FACTOR = 5;
/** … and at least BURST_MIN_LISTINGS, so a member listing 1 a day is not flagged for listing 5. */
export const BURST_MIN_LISTINGS = 10;
/** The baseline is the median over the member's active days among this many days before. */
export const BURST_BASELINE_DAYS = 30;

export const HIGH_RETRACTION_RATE = 0.2;
export const MISSING_EVIDENCE_SHARE = 0.5;
/** Rate rules apply only from this many listings in the window: 1 retraction of 2 is no pattern. */
export const MIN_LISTINGS_FOR_RATES = 10;

/** The median of a list of numbers (mean of the middle two for an even count); null when empty. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Rounds for presentation, so JSON and CSV show the same value: rates to 4 places, hours to 2. */
export function round(value: number | null, places: number): number | null {
  if (value === null) return null;
  const f = 10 ** places;
  return Math.round(value * f) / f;
}

/**
 * Bursts among `days` (the member's listings per UTC day inside the window): a day whose listings
 * are ≥ max(BURST_MIN_LISTINGS, BURST_FACTOR × baseline), where the baseline is the median of the
 * member's listings per active day (a day with at least one listing) over the
 * BURST_BASELINE_DAYS days before it, taken from `history` (listings per whole UTC day, which may
 * reach back before the window). No active day before: the baseline is 0.
 */
export function detectBursts(days: ReadonlyMap<string, number>, history: ReadonlyMap<string, number>): Burst[] {
  const bursts: Burst[] = [];
  for (const [day, listings] of [...days].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (listings < BURST_MIN_LISTINGS) continue;
    const active: number[] = [];
    for (let i = 1; i <= BURST_BASELINE_DAYS; i++) {
      const n = history.get(addDays(day, -i)) ?? 0;
      if (n > 0) active.push(n);
    }
    const baseline = median(active) ?? 0;
    if (listings >= Math.max(BURST_MIN_LISTINGS, BURST_FACTOR * baseline)) bursts.push({ day, listings, baselinePerDay: baseline });
  }
  return bursts;
}

/** Misbehaviour this node recorded against an origin in the window, per kind. */
export interface MisbehaviourCount {
  origin: string;
  kind: string;
  count: number;
}

/**
 * The anomaly rules applied to one member's statistics, in a fixed order. `retractedOfListed` is
 * the count behind `retractionRate` (listings of the window retracted by its end): the rule
 * compares exact counts, not the rounded rate.
 */
export function memberAnomalies(m: MemberStats, retractedOfListed: number): Anomaly[] {
  const out: Anomaly[] = [];
  if (m.listings >= MIN_LISTINGS_FOR_RATES && retractedOfListed / m.listings >= HIGH_RETRACTION_RATE) {
    out.push({
      member: m.member,
      kind: 'high_retraction_rate',
      detail: `${retractedOfListed} of ${m.listings} listings retracted (threshold ${HIGH_RETRACTION_RATE * 100}%)`,
    });
  }
  for (const b of m.bursts) {
    out.push({ member: m.member, kind: 'burst', detail: `${b.listings} listings on ${b.day}; baseline ${b.baselinePerDay} per active day` });
  }
  if (m.listings >= MIN_LISTINGS_FOR_RATES && m.withoutEvidenceDigest / m.listings >= MISSING_EVIDENCE_SHARE) {
    out.push({
      member: m.member,
      kind: 'missing_evidence',
      detail: `${m.withoutEvidenceDigest} of ${m.listings} listings have no evidence digest (threshold ${MISSING_EVIDENCE_SHARE * 100}%)`,
    });
  }
  return out;
}

export function misbehaviourAnomalies(counts: readonly MisbehaviourCount[]): Anomaly[] {
  return counts.map((c) => ({
    member: c.origin,
    kind: 'misbehaviour',
    detail: `${c.count} ${c.kind} record${c.count === 1 ? '' : 's'} detected by this node`,
  }));
}
