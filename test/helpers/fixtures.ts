/**
 * Identifiers and request bodies shared by the integration tests. Every value here is valid for
 * its type (checked by normalisation) unless its name says otherwise; NORMALISED gives the one
 * spelling each is reduced to, so tests can look for it where it must never appear.
 */
import type { IdentifierType } from '../../src/identifiers/types.js';

export interface Identifier {
  type: IdentifierType;
  value: string;
}

export const PHONE = '138 0013 8000';
/** Other spellings of PHONE: all normalise to +8613800138000. */
export const PHONE_SPELLINGS = ['+86 138-0013-8000', '008613800138000', '13800138000'] as const;
export const NATIONAL_ID = '11010519491231002X';
/** Wrong check character: rejected by normalisation. */
export const BAD_NATIONAL_ID = '110105194912310021';
/** Right check character, born 31 December 2099: refused as a birth date in the future (by any clock a test uses). */
export const FUTURE_NATIONAL_ID = '110105209912310029';
export const EMAIL = 'Alice.Example@Example.COM';
export const DEVICE_ID = '490154203237518';
export const PAYMENT_ACCOUNT = 'alipay:2088123456789012';

export const NORMALISED = {
  phone: '+8613800138000',
  email: 'alice.example@example.com',
  national_id: '11010519491231002X',
  device_id: 'imei:49015420323751',
  payment_account: 'alipay:2088123456789012',
} as const;

export const phone = (value: string = PHONE): Identifier => ({ type: 'phone', value });
export const email = (value: string = EMAIL): Identifier => ({ type: 'email', value });
export const nationalId = (value: string = NATIONAL_ID): Identifier => ({ type: 'national_id', value });
export const deviceId = (value: string = DEVICE_ID): Identifier => ({ type: 'device_id', value });
export const paymentAccount = (value: string = PAYMENT_ACCOUNT): Identifier => ({ type: 'payment_account', value });

export const DAY_MS = 86_400_000;

/** A valid POST /v1/listings body: a permanent fraud ban on PHONE that began a day ago. */
export function listingBody(overrides: Record<string, unknown> = {}, now: Date = new Date()): Record<string, unknown> {
  return {
    identifiers: [phone()],
    category: 'fraud',
    severity: 'severe',
    bannedAt: new Date(now.getTime() - DAY_MS).toISOString(),
    banUntil: null,
    ...overrides,
  };
}

export interface CreatedListingBody {
  id: string;
  origin: string;
  seq: number;
  status: string;
  tokens: { type: IdentifierType; epoch: number; token: string }[];
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface CheckBody {
  decision: 'allow' | 'review' | 'deny';
  purpose: string;
  matches: Record<string, unknown>[];
  penalties: { action: string; until: string | null; rule: string }[];
  rules: string[];
}

/** Reads a JSON response body as the given shape (the tests then assert on it). */
export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
