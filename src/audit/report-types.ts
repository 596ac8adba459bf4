/**
 * The audit report: per member and time window, counts only, never identifiers. Served as JSON by
 * `GET /v1/audit/report`, exported as CSV, printed by `jointban report`, and drawn by the
 * dashboard. Times are ISO-8601 UTC; days are `YYYY-MM-DD` (UTC).
 */
export interface DailyCount {
  day: string;
  listings: number;
  retractions: number;
}

export interface Burst {
  day: string;
  listings: number;
  /** The member's median listings per active day over the baseline period before `day`. */
  baselinePerDay: number;
}

export interface CheckCounts {
  /** A check's purpose, or `watch`: enrolments through PUT /v1/watch, which test identifiers too. */
  purpose: 'registration' | 'monetization' | 'watch';
  /** Requests served. */
  served: number;
  /** Identifiers (or tokens) those requests tested: what enumeration costs. */
  identifiers: number;
  /** Checks whose decision was review or deny; for `watch`, the match events recorded at enrolment. */
  hits: number;
  /** hits / served; null for `watch` (its hits are events, several per reference at times). */
  hitRate: number | null;
}

export interface MemberStats {
  member: string;
  /** Listings the member made in the window (by entry time). */
  listings: number;
  listingsByCategory: Record<string, number>;
  /** Listings per identifier type (a listing with a phone and an email counts once for each). */
  listingsByIdentifierType: Record<string, number>;
  /** Retraction entries the member made in the window. */
  retractions: number;
  /** Of the listings made in the window, the share retracted by the end of the window. */
  retractionRate: number | null;
  /** Median hours from listing to retraction, over the listings made in the window and since retracted. */
  medianHoursToRetraction: number | null;
  /** Listings made in the window that share a token with a listing of another origin. */
  corroborated: number;
  withoutEvidenceDigest: number;
  bursts: Burst[];
  daily: DailyCount[];
  /** Checks this node served, per purpose, and watch enrolments (only on the row of the node's own member). */
  checks: CheckCounts[] | null;
}

export type AnomalyKind = 'high_retraction_rate' | 'burst' | 'missing_evidence' | 'misbehaviour' | 'check_volume_jump';

export interface Anomaly {
  member: string;
  kind: AnomalyKind;
  detail: string;
}

export interface AuditReport {
  federation: string;
  /** The member id of the node that produced the report. */
  node: string;
  generatedAt: string;
  from: string;
  to: string;
  members: MemberStats[];
  anomalies: Anomaly[];
}
