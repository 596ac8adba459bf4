/**
 * Phone numbers → E.164 (docs/PROTOCOL.md, "Identifiers and tokens", phone).
 *
 * We use libphonenumber-js with its full (`max`) metadata: the default metadata only checks
 * lengths, so it would accept unallocated ranges and could not tell a mobile from a landline.
 * Mainland China (+86) numbers are accepted only when mobile: a landline is shared by a household
 * or an office, so banning one would reach people who did nothing.
 */
import parsePhoneNumber, { isSupportedCountry } from 'libphonenumber-js/max';
import { accept, reject, type NormaliseResult } from './types.js';

/** Longer than any real spelling of a number; caps the work done on hostile input. */
export const MAX_PHONE_INPUT_LENGTH = 64;

const MAINLAND_CHINA_CALLING_CODE = '86';
const MAINLAND_MOBILE_TYPES: ReadonlySet<string> = new Set(['MOBILE', 'FIXED_LINE_OR_MOBILE']);

/**
 * Digits with the usual separators and one optional leading '+'. Anything else (letters,
 * extensions, 'tel:' URIs, surrounding text) is rejected here rather than left to the library.
 * Parentheses only group digits, so they are read as spaces first: "(+86) 138 …", "(010) 6552 …".
 */
const PHONE_CHARS_RE = /^\+?[0-9 .-]+$/;

/** Whether `region` is an ISO 3166-1 alpha-2 code the phone metadata knows (upper-case only). */
export function isSupportedPhoneRegion(region: string): boolean {
  return isSupportedCountry(region);
}

export function normalisePhone(raw: string, defaultRegion: string): NormaliseResult {
  if (!isSupportedCountry(defaultRegion)) {
    // A configuration error, not bad input: fail loudly so it is fixed once, at startup.
    throw new RangeError('defaultRegion is not a supported ISO 3166-1 alpha-2 region');
  }
  if (raw.length > MAX_PHONE_INPUT_LENGTH) return reject('phone number is too long');
  // NFKC turns full-width digits and '＋' (common with CJK input methods) into ASCII.
  const text = raw.normalize('NFKC').replace(/[\s()]+/gu, ' ').trim();
  if (text === '') return reject('phone number is empty');
  if (!PHONE_CHARS_RE.test(text)) return reject('phone number contains characters other than digits and separators');

  const parsed = parsePhoneNumber(text, { defaultCountry: defaultRegion, extract: false });
  if (parsed === undefined || parsed.ext !== undefined || !parsed.isValid()) {
    return reject('not a valid phone number');
  }
  if (parsed.countryCallingCode === MAINLAND_CHINA_CALLING_CODE) {
    const type = parsed.getType();
    if (type === undefined || !MAINLAND_MOBILE_TYPES.has(type)) {
      return reject('not a mobile number (mainland China numbers must be mobile)');
    }
  }
  return accept(parsed.number);
}
