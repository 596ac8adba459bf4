/**
 * Phone numbers → E.164 (docs/PROTOCOL.md, "Identifiers and tokens", phone).
 *
 * We use libphonenumber-js with its full (`max`) metadata: the default metadata only checks
 * lengths, so it would accept unallocated ranges and could not tell a mobile from a landline.
 * Mainland China (+86) numbers are accepted only when mobile: a landline is shared by a household
 * or an office, so banning one would reach people who did nothing.
 */
import parsePhoneNumber, { isSupportedCountry, Metadata } from 'libphonenumber-js/max';
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

/**
 * The fast path for the commonest input, a mainland mobile number spelled `13812345678`,
 * `138 1234 5678`, `138-1234-5678`, `+86 138-1234-5678`, `+8613812345678` or `008613812345678`
 * (the last and the bare forms only when the default region is CN, as the library reads them).
 * Parsing with libphonenumber-js costs ~40 µs, most of it matching the number against every type's
 * pattern; here we test the one pattern that decides, taken from the library's own metadata, so the
 * two cannot drift apart when the metadata is updated. Only a number the library would call
 * MOBILE (or FIXED_LINE_OR_MOBILE) is accepted here; anything else, valid or not, goes to the
 * library, which gives the answer and the reason. The agreement is tested on every test vector and
 * on generated numbers and spellings (test/unit/identifiers/phone-fast-path.test.ts).
 */
const FAST_SPELLING_RE = /^(?:(\+86|0086)[ -]?)?(1[0-9]{2})[ -]?([0-9]{4})[ -]?([0-9]{4})$/;

interface NumberingPlanView {
  nationalNumberPattern(): string;
  nationalPrefixForParsing(): string | undefined;
  type(name: 'MOBILE'): { pattern(): string; possibleLengths(): number[] | undefined } | undefined;
}

function mainlandMobileMatcher(): ((national: string) => boolean) | undefined {
  const metadata = new Metadata();
  metadata.selectNumberingPlan('CN');
  const plan = metadata.numberingPlan as unknown as NumberingPlanView | undefined;
  const mobile = plan?.type('MOBILE');
  if (!plan || !mobile || !(mobile.possibleLengths() ?? [11]).includes(11)) return undefined;
  const general = new RegExp(`^(?:${plan.nationalNumberPattern()})$`);
  const pattern = new RegExp(`^(?:${mobile.pattern()})$`);
  // A national number the library could read as starting with a carrier-selection prefix is left
  // to the library, whose stripping rules we do not repeat.
  const prefix = plan.nationalPrefixForParsing();
  const carrier = prefix ? new RegExp(`^(?:${prefix})`) : undefined;
  return (national) => general.test(national) && pattern.test(national) && !carrier?.test(national);
}

const isMainlandMobile = mainlandMobileMatcher();

function fastMainlandMobile(raw: string, defaultRegion: string): string | undefined {
  if (isMainlandMobile === undefined || raw.length > 20) return undefined;
  const m = FAST_SPELLING_RE.exec(raw);
  if (m === null) return undefined;
  const prefix = m[1];
  if (prefix !== '+86' && defaultRegion !== 'CN') return undefined;
  const national = `${m[2]!}${m[3]!}${m[4]!}`;
  return isMainlandMobile(national) ? `+86${national}` : undefined;
}

export function normalisePhone(raw: string, defaultRegion: string): NormaliseResult {
  if (!isSupportedCountry(defaultRegion)) {
    // A configuration error, not bad input: fail loudly so it is fixed once, at startup.
    throw new RangeError('defaultRegion is not a supported ISO 3166-1 alpha-2 region');
  }
  const fast = fastMainlandMobile(raw, defaultRegion);
  return fast === undefined ? normalisePhoneWithLibrary(raw, defaultRegion) : accept(fast);
}

/** The general path: every number and spelling, through libphonenumber-js. */
export function normalisePhoneWithLibrary(raw: string, defaultRegion: string): NormaliseResult {
  if (!isSupportedCountry(defaultRegion)) {
    throw new RangeError('defaultRegion is not a supported ISO 3166-1 alpha-2 region');
  }
  if (raw.length > MAX_PHONE_INPUT_LENGTH) return reject('phone number is too long');
  // NFKC turns full-width digits and '＋' (common with CJK input methods) into ASCII.
  const text = raw
    .normalize('NFKC')
    .replace(/[\s()]+/gu, ' ')
    .trim();
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
