/**
 * Evaluates the joint-penalty policy (docs/POLICY.md) against the listings that matched a check.
 * Pure: the caller passes the matches and the current time; nothing here reads a clock or a store.
 *
 * Which matches count:
 * - Only active listings whose expiresAt is after `now`. The store already filters retracted and
 *   expired listings; we filter again so a stale index or a race with a retraction never denies
 *   anyone.
 * - Registration: only bans still in force (banUntil null or after `now`). A person whose
 *   temporary ban is over may register again; the ended ban still matters for monetization.
 * - Monetization: every counted listing, until its suspension end (`monetizationSuspensionEnd`).
 *
 * All time windows are half-open: a window ending at T covers instants strictly before T.
 */
import type { Decision, DecisionKind, Penalty, Policy, PolicyMatch, Purpose, RegistrationRule } from './types.js';

const STRENGTH: Record<DecisionKind, number> = { allow: 0, review: 1, deny: 2 };

export function evaluatePolicy(policy: Policy, purpose: Purpose, matches: readonly PolicyMatch[], now: Date): Decision {
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new RangeError('evaluatePolicy: now is an invalid Date');
  const live = matches.filter((m) => m.status === 'active' && parseTime(m.expiresAt, 'expiresAt') > nowMs);
  return purpose === 'registration' ? evaluateRegistration(policy.registration.rules, live, nowMs) : evaluateMonetization(policy, live, nowMs);
}

function evaluateRegistration(rules: readonly RegistrationRule[], live: readonly PolicyMatch[], nowMs: number): Decision {
  const inForce = live.filter((m) => m.banUntil === null || parseTime(m.banUntil, 'banUntil') > nowMs);
  const decision: Decision = { decision: 'allow', penalties: [], rules: [] };
  for (const rule of rules) {
    const { identifierTypes, minDistinctOrigins } = rule.when;
    const counted = identifierTypes === undefined ? inForce : inForce.filter((m) => identifierTypes.includes(m.identifierType));
    if (counted.length === 0) continue;
    // Several listings from one platform are one platform's word; corroboration needs others.
    if (minDistinctOrigins !== undefined && new Set(counted.map((m) => m.origin)).size < minDistinctOrigins) {
      continue;
    }
    decision.rules.push(rule.name);
    if (STRENGTH[rule.decision] > STRENGTH[decision.decision]) decision.decision = rule.decision;
    if (rule.penalty !== undefined) {
      // The penalty lasts as long as the longest ban among the listings that made the rule fire.
      const until = latest(counted.map((m) => (m.banUntil === null ? null : parseTime(m.banUntil, 'banUntil'))));
      decision.penalties.push({ action: rule.penalty, until: toIso(until), rule: rule.name });
    }
  }
  return decision;
}

function evaluateMonetization(policy: Policy, live: readonly PolicyMatch[], nowMs: number): Decision {
  const ends = live
    .map((m) => monetizationSuspensionEnd(policy, m))
    .filter((end) => end === null || end.getTime() > nowMs)
    .map((end) => (end === null ? null : end.getTime()));
  if (ends.length === 0) return { decision: 'allow', penalties: [], rules: [] };
  const rule = policy.monetization;
  const penalty: Penalty = { action: rule.penalty, until: toIso(latest(ends)), rule: rule.name };
  return { decision: 'deny', penalties: [penalty], rules: [rule.name] };
}

/**
 * When monetization may resume after this listing's ban: the latest of
 * - the end of the ban itself (banUntil);
 * - the clean period: `cleanPeriodMonths` calendar months after banUntil;
 * - the suspension window: `suspensionFactor` × (banUntil − bannedAt), counted from bannedAt.
 * null when the ban is permanent (monetization is suspended permanently).
 */
export function monetizationSuspensionEnd(policy: Policy, match: Pick<PolicyMatch, 'bannedAt' | 'banUntil'>): Date | null {
  if (match.banUntil === null) return null;
  const { suspensionFactor, cleanPeriodMonths } = policy.monetization;
  const bannedAt = parseTime(match.bannedAt, 'bannedAt');
  const banUntil = parseTime(match.banUntil, 'banUntil');
  const duration = Math.max(0, banUntil - bannedAt);
  // A fractional factor (2.5) can give a fractional millisecond: round up, never end early.
  const suspensionEnd = bannedAt + Math.ceil(suspensionFactor * duration);
  const cleanEnd = addMonthsUtc(new Date(banUntil), cleanPeriodMonths).getTime();
  return new Date(Math.max(banUntil, cleanEnd, suspensionEnd));
}

/**
 * Adds calendar months in UTC, keeping the time of day and clamping the day to the target month's
 * last day (Jan 31 + 1 month = Feb 28, or Feb 29 in a leap year), so "3 months" never spills
 * into a fourth.
 */
export function addMonthsUtc(date: Date, months: number): Date {
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth() + months;
  // Day 0 of the following month is the last day of the target month.
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(date.getUTCDate(), lastDay);
  return new Date(Date.UTC(year, month, day, date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds()));
}

/**
 * Accepts only ISO 8601 date-times with an explicit offset: `Date.parse` would read a bare date as
 * UTC but a bare date-time as local time, and would accept free-form text. A bad time is a bug
 * upstream; throwing surfaces it instead of silently allowing a banned person through.
 */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function parseTime(value: string, field: string): number {
  const ms = ISO_DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new RangeError(`policy match: ${field} is not an ISO 8601 date-time: ${value}`);
  return ms;
}

/** The latest of the given times; null (permanent) wins over any time. */
function latest(times: readonly (number | null)[]): number | null {
  let max = Number.NEGATIVE_INFINITY;
  for (const time of times) {
    if (time === null) return null;
    max = Math.max(max, time);
  }
  return max;
}

function toIso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
