/**
 * Types of the joint-penalty policy: the policy file (validated by `schema.ts`), the matches the
 * caller hands in, and the decision that comes out. Plain data only, so the shell can log a
 * decision or return it over HTTP as it is.
 */
import type { IdentifierType } from '../identifiers/types.js';

/** Why the platform is asking: a sign-up, or granting profit privileges to an existing account. */
export const PURPOSES = ['registration', 'monetization'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** Ordered weakest to strongest; the strongest decision of the fired rules wins. */
export const DECISIONS = ['allow', 'review', 'deny'] as const;
export type DecisionKind = (typeof DECISIONS)[number];

/** The closed set of joint penalties the association has agreed on. */
export const PENALTY_ACTIONS = ['deny_registration', 'manual_review', 'suspend_monetization'] as const;
export type PenaltyAction = (typeof PENALTY_ACTIONS)[number];

/** The penalties a registration rule may impose (suspension is computed by the monetization rule). */
export const REGISTRATION_PENALTIES = ['deny_registration', 'manual_review'] as const;
export type RegistrationPenalty = (typeof REGISTRATION_PENALTIES)[number];

/**
 * The conditions of a registration rule. Every condition present must hold (at least one is).
 * - `identifierTypes`: only matches through these identifier types count.
 * - `minDistinctOrigins`: the counted matches come from listings of at least this many distinct
 *   origins (corroboration by independent platforms).
 */
export interface RegistrationCondition {
  identifierTypes?: IdentifierType[] | undefined;
  minDistinctOrigins?: number | undefined;
}

export interface RegistrationRule {
  name: string;
  comment?: string | undefined;
  when: RegistrationCondition;
  decision: DecisionKind;
  /** Absent only on an `allow` rule, which records that it fired but imposes nothing. */
  penalty?: RegistrationPenalty | undefined;
}

export interface MonetizationRule {
  name: string;
  comment?: string | undefined;
  /** Suspension lasts this many times the ban's duration, counted from bannedAt (2–3). */
  suspensionFactor: number;
  /** Monetization stays suspended this many calendar months after a ban ends (0–24). */
  cleanPeriodMonths: number;
  penalty: 'suspend_monetization';
}

export interface Policy {
  version: 1;
  comment?: string | undefined;
  registration: { rules: RegistrationRule[] };
  monetization: MonetizationRule;
}

/** One listing that matched one of the checked identifiers. Times are ISO 8601 strings. */
export interface PolicyMatch {
  listingId: string;
  /** Member id of the platform that listed the ban. */
  origin: string;
  category: string;
  severity: 'severe';
  identifierType: IdentifierType;
  status: 'active' | 'retracted' | 'expired';
  bannedAt: string;
  /** null = permanent ban. */
  banUntil: string | null;
  /** When the listing stops being shared, whatever the ban. */
  expiresAt: string;
}

export interface Penalty {
  action: PenaltyAction;
  /** ISO 8601; null = permanent. */
  until: string | null;
  /** Name of the rule that imposed it. */
  rule: string;
}

export interface Decision {
  decision: DecisionKind;
  penalties: Penalty[];
  /** Names of the rules that fired, in policy order. */
  rules: string[];
}
