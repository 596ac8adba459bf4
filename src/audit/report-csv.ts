/**
 * The audit report as CSV (common/csv.ts: RFC 4180): a header row, then one row per member. Every
 * row repeats which node made the report, for which federation and window, and when, so a row
 * copied out of the file still says where it came from. Null values are empty fields. Columns are
 * listed in docs/AUDIT.md. No field can start with `=`, `+`, `-` or `@` (member ids and categories
 * start with a letter, counts are not negative), so a spreadsheet never reads one as a formula.
 */
import { csvRow } from '../common/csv.js';
import { COUNTED_KINDS } from '../service/check-counter.js';
import type { AuditReport, MemberStats } from './report-types.js';

function union(report: AuditReport, pick: (m: MemberStats) => Record<string, number>): string[] {
  return [...new Set(report.members.flatMap((m) => Object.keys(pick(m))))].sort();
}

export function reportToCsv(report: AuditReport): string {
  const categories = union(report, (m) => m.listingsByCategory);
  const types = union(report, (m) => m.listingsByIdentifierType);
  const header = [
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
    ...categories.map((c) => `listings_by_category.${c}`),
    ...types.map((t) => `listings_by_identifier_type.${t}`),
    ...COUNTED_KINDS.flatMap((p) => [`checks.${p}.served`, `checks.${p}.identifiers`, `checks.${p}.hits`, `checks.${p}.hit_rate`]),
  ];
  const rows = report.members.map((m) => {
    const kinds = [...new Set(report.anomalies.filter((a) => a.member === m.member).map((a) => a.kind))];
    return [
      report.federation,
      report.node,
      report.from,
      report.to,
      report.generatedAt,
      m.member,
      m.listings,
      m.retractions,
      m.retractionRate,
      m.medianHoursToRetraction,
      m.corroborated,
      m.withoutEvidenceDigest,
      m.bursts.length,
      m.bursts.map((b) => b.day).join(' '),
      kinds.join(' '),
      ...categories.map((c) => m.listingsByCategory[c] ?? 0),
      ...types.map((t) => m.listingsByIdentifierType[t] ?? 0),
      ...COUNTED_KINDS.flatMap((p) => {
        const c = m.checks?.find((x) => x.purpose === p);
        return c ? [c.served, c.identifiers, c.hits, c.hitRate] : [null, null, null, null];
      }),
    ];
  });
  return [header, ...rows].map(csvRow).join('');
}
