/**
 * The identifier types jointban shares tokens for, and their one-byte wire codes (docs/PROTOCOL.md,
 * "Identifiers and tokens"). The codes are part of the token derivation: a code is never reused or
 * renumbered, a new type gets the next free code.
 */
export const IDENTIFIER_TYPES = ['phone', 'email', 'national_id', 'device_id', 'payment_account'] as const;

export type IdentifierType = (typeof IDENTIFIER_TYPES)[number];

export const IDENTIFIER_TYPE_CODES: Readonly<Record<IdentifierType, number>> = Object.freeze({
  phone: 1,
  email: 2,
  national_id: 3,
  device_id: 4,
  payment_account: 5,
});

export function isIdentifierType(value: string): value is IdentifierType {
  return (IDENTIFIER_TYPES as readonly string[]).includes(value);
}

/**
 * The outcome of normalising one raw identifier. `reason` is a short message for a human and never
 * contains the input: identifiers are personal information and reasons end up in logs and responses.
 */
export type NormaliseResult = { ok: true; value: string } | { ok: false; reason: string };

export interface NormaliseOptions {
  /** ISO 3166-1 alpha-2 region used for phone numbers written without a country code, e.g. 'CN'. */
  defaultRegion: string;
  /**
   * The current time in ms since the epoch, from the caller's clock: a national ID whose birth date
   * is after today (in China Standard Time) is refused. The core reads no clock of its own.
   */
  now: number;
}

export function accept(value: string): NormaliseResult {
  return { ok: true, value };
}

export function reject(reason: string): NormaliseResult {
  return { ok: false, reason };
}
