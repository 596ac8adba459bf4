/**
 * Chinese resident identity numbers (GB 11643-1999) → the 18-character form
 * (docs/PROTOCOL.md, "Identifiers and tokens", national_id).
 *
 * Layout: 6-digit administrative region, 8-digit birth date YYYYMMDD, 3-digit sequence, and a
 * check character (ISO 7064 MOD 11-2, 'X' for 10). Legacy 15-digit numbers (issued before 1999)
 * have a 2-digit year in the 1900s and no check character; we convert them so that both cards of
 * one person give the same token.
 *
 * The region code is deliberately not checked against a list: the list changes as districts are
 * merged, and the 2023 foreign permanent resident ID ('9' prefix) follows the same layout.
 */
import { accept, reject, type NormaliseResult } from './types.js';

/** Weights 2^(17-i) mod 11 for positions i = 0..16, as tabulated in GB 11643-1999. */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
/** Check character for (sum of weighted digits) mod 11. */
const CHECK_CHARS = '10X98765432';

/** A birth year before this is a typo, not a person we could ban. */
const MIN_BIRTH_YEAR = 1900;
/**
 * The birth date is written in China's calendar, so "today" is the date in China Standard Time
 * (UTC+8, no daylight saving): a child born this morning in Beijing has a valid ID even while it is
 * still yesterday in UTC.
 */
const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

/** Longer than any spaced-out spelling of an ID; caps the work done on hostile input. */
const MAX_INPUT_LENGTH = 64;

/** The GB 11643-1999 check character for the first 17 digits of an ID. */
export function nationalIdCheckChar(first17: string): string {
  if (!/^[0-9]{17}$/.test(first17)) throw new TypeError('expected 17 digits');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * WEIGHTS[i]!;
  return CHECK_CHARS[sum % 11]!;
}

/** Today's date in China Standard Time as the number YYYYMMDD, for `now` in ms since the epoch. */
function chinaDateNumber(now: number): number {
  const date = new Date(now + CHINA_OFFSET_MS);
  return date.getUTCFullYear() * 10_000 + (date.getUTCMonth() + 1) * 100 + date.getUTCDate();
}

/**
 * Checks the YYYYMMDD at positions 6..13; returns a reason, or undefined when the date is fine.
 * `today` is chinaDateNumber(now): the core reads no clock, its caller passes the time in.
 */
function birthDateProblem(id: string, today: number): string | undefined {
  const year = Number(id.slice(6, 10));
  const month = Number(id.slice(10, 12));
  const day = Number(id.slice(12, 14));
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (daysInMonth === undefined || day < 1 || day > daysInMonth) return 'birth date is not a real date';
  if (year < MIN_BIRTH_YEAR) return 'birth year is before 1900';
  if (Number(id.slice(6, 14)) > today) return 'birth date is in the future';
  return undefined;
}

/** `now` (ms since the epoch, the caller's clock) bounds the birth date: no one is born tomorrow. */
export function normaliseNationalId(raw: string, now: number): NormaliseResult {
  if (raw.length > MAX_INPUT_LENGTH) return reject('national ID is too long');
  // NFKC maps full-width digits and 'Ｘ' to ASCII; separators people type are dropped.
  const text = raw.normalize('NFKC').replace(/\s+/gu, '').toUpperCase();

  if (/^[0-9]{15}$/.test(text)) {
    const first17 = `${text.slice(0, 6)}19${text.slice(6)}`;
    const problem = birthDateProblem(first17, chinaDateNumber(now));
    if (problem !== undefined) return reject(problem);
    return accept(first17 + nationalIdCheckChar(first17));
  }
  if (!/^[0-9]{17}[0-9X]$/.test(text)) return reject('national ID must be 18 characters (17 digits and a check character) or 15 digits');
  const problem = birthDateProblem(text, chinaDateNumber(now));
  if (problem !== undefined) return reject(problem);
  if (nationalIdCheckChar(text.slice(0, 17)) !== text[17]) return reject('check character does not match');
  return accept(text);
}
