/**
 * Computes the audit report (report-types.ts) from what this node holds: the listings projection
 * and log entries of every log it mirrors (an association node holds every member's; a member node
 * its own and its peers'), the misbehaviour it recorded, and the checks it served. Counts only: no
 * token, reference or identifier ever enters a report. Every definition is in docs/AUDIT.md.
 */
import { IDENTIFIER_TYPES } from '../identifiers/types.js';
import { COUNTED_KINDS } from '../service/check-counter.js';
import type { AuditRepository, OriginCount, OriginKeyCount } from '../store/audit-repository.js';
import type { CheckCountRepository } from '../store/check-count-repository.js';
import { CHECK_VOLUME_BASELINE_DAYS, checkVolumeAnomalies, detectCheckVolumeJumps } from './check-volume.js';
import type { Anomaly, AuditReport, CheckCounts, DailyCount, MemberStats } from './report-types.js';
import { BURST_BASELINE_DAYS, detectBursts, median, memberAnomalies, misbehaviourAnomalies, round } from './rules.js';
import { addDays, dayOf, windowDays, type AuditWindow } from './window.js';

export interface StatisticsInput {
  audit: AuditRepository;
  checkCounts: CheckCountRepository;
  federation: string;
  /** The member id of this node: its row carries the check counts. */
  member: string;
  /** Members to report even without activity in the window (the roster's platforms). */
  members: readonly string[];
  /** The federation's categories: each gets a column, zero or not. */
  categories: readonly string[];
  window: AuditWindow;
  generatedAt: string;
}

const HOUR_MS = 3_600_000;

function byOrigin(rows: readonly OriginCount[]): Map<string, number> {
  return new Map(rows.map((r) => [r.origin, r.n]));
}

function byOriginKey(rows: readonly OriginKeyCount[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const r of rows) {
    let inner = out.get(r.origin);
    if (!inner) out.set(r.origin, (inner = new Map()));
    inner.set(r.key, (inner.get(r.key) ?? 0) + r.n);
  }
  return out;
}

/** Every expected key with 0, then the keys found (a peer may use a category this node lacks). */
function record(expected: readonly string[], found: ReadonlyMap<string, number> | undefined): Record<string, number> {
  const keys = [...new Set([...expected, ...(found?.keys() ?? [])])].sort();
  return Object.fromEntries(keys.map((k) => [k, found?.get(k) ?? 0]));
}

function daily(listings: ReadonlyMap<string, number> | undefined, retractions: ReadonlyMap<string, number> | undefined): DailyCount[] {
  const days = [...new Set([...(listings?.keys() ?? []), ...(retractions?.keys() ?? [])])].sort();
  return days.map((day) => ({ day, listings: listings?.get(day) ?? 0, retractions: retractions?.get(day) ?? 0 }));
}

async function checkCounts(input: StatisticsInput): Promise<CheckCounts[]> {
  const { first, last } = windowDays(input.window);
  const rows = await input.checkCounts.perPurpose(first, last);
  return COUNTED_KINDS.map((purpose) => {
    const row = rows.find((r) => r.purpose === purpose);
    const served = row?.served ?? 0;
    const hits = row?.hits ?? 0;
    // A watch's hits are events (a reference may match several listings), not answers: no rate.
    return { purpose, served, identifiers: row?.identifiers ?? 0, hits, hitRate: served === 0 || purpose === 'watch' ? null : round(hits / served, 4) };
  });
}

export async function computeAuditReport(input: StatisticsInput): Promise<AuditReport> {
  const { audit, window } = input;
  // Bursts compare each day with the whole days before it, which may lie before the window.
  const history: AuditWindow = { from: `${addDays(dayOf(window.from), -BURST_BASELINE_DAYS)}T00:00:00.000Z`, to: window.to };
  const [categories, types, withoutEvidence, retracted, delays, corroborated, perDay, historyPerDay, retractionsPerDay, misbehaviour] = await Promise.all([
    audit.listingsByCategory(window),
    audit.listingsByIdentifierType(window),
    audit.withoutEvidenceDigest(window),
    audit.retractedOfListed(window),
    audit.retractionDelays(window),
    audit.corroborated(window),
    audit.listingsPerDay(window),
    audit.listingsPerDay(history),
    audit.retractionsPerDay(window),
    audit.misbehaviour(window),
  ]);
  const byCategory = byOriginKey(categories);
  const byType = byOriginKey(types);
  const withoutEvidenceBy = byOrigin(withoutEvidence);
  const retractedBy = byOrigin(retracted);
  const corroboratedBy = byOrigin(corroborated);
  const listingsPerDay = byOriginKey(perDay);
  const historyPerDayBy = byOriginKey(historyPerDay);
  const retractionsPerDayBy = byOriginKey(retractionsPerDay);
  const delaysBy = new Map<string, number[]>();
  for (const d of delays) {
    let hours = delaysBy.get(d.origin);
    if (!hours) delaysBy.set(d.origin, (hours = []));
    hours.push((Date.parse(d.retractedAt) - Date.parse(d.listedAt)) / HOUR_MS);
  }

  const members = [...new Set([input.member, ...input.members, ...listingsPerDay.keys(), ...retractionsPerDayBy.keys(), ...misbehaviour.map((m) => m.origin)])].sort();
  const ownChecks = await checkCounts(input);
  // Per-key check volume (check-volume.ts); its baselines reach back before the window too.
  const { first, last } = windowDays(window);
  const volumeJumps = detectCheckVolumeJumps(await input.checkCounts.perKeyDay(addDays(first, -CHECK_VOLUME_BASELINE_DAYS), last), first, last);
  const stats: MemberStats[] = [];
  const anomalies: Anomaly[] = [];
  for (const member of members) {
    const days = listingsPerDay.get(member) ?? new Map<string, number>();
    const listings = [...days.values()].reduce((a, b) => a + b, 0);
    const retractedOfListed = retractedBy.get(member) ?? 0;
    const m: MemberStats = {
      member,
      listings,
      listingsByCategory: record(input.categories, byCategory.get(member)),
      listingsByIdentifierType: record(IDENTIFIER_TYPES, byType.get(member)),
      retractions: [...(retractionsPerDayBy.get(member)?.values() ?? [])].reduce((a, b) => a + b, 0),
      retractionRate: listings === 0 ? null : round(retractedOfListed / listings, 4),
      medianHoursToRetraction: round(median(delaysBy.get(member) ?? []), 2),
      corroborated: corroboratedBy.get(member) ?? 0,
      withoutEvidenceDigest: withoutEvidenceBy.get(member) ?? 0,
      bursts: detectBursts(days, historyPerDayBy.get(member) ?? new Map()),
      daily: daily(days, retractionsPerDayBy.get(member)),
      checks: member === input.member ? ownChecks : null,
    };
    stats.push(m);
    anomalies.push(...memberAnomalies(m, retractedOfListed));
    const faults = misbehaviour.filter((r) => r.origin === member).sort((a, b) => (a.key < b.key ? -1 : 1));
    anomalies.push(...misbehaviourAnomalies(faults.map((r) => ({ origin: r.origin, kind: r.key, count: r.n }))));
    if (member === input.member) anomalies.push(...checkVolumeAnomalies(member, volumeJumps));
  }
  return {
    federation: input.federation,
    node: input.member,
    generatedAt: input.generatedAt,
    from: window.from,
    to: window.to,
    members: stats,
    anomalies,
  };
}
