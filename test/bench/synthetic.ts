/**
 * Synthetic people for the benchmark, deterministic by index: person k has a valid mainland mobile
 * number, an 18-digit national ID with the right GB 11643-1999 check character, and an email
 * address, each distinct from every other person's. The node lists people 0..N-1; check bodies mix
 * those (hits) with people from N on (misses), so both sides derive the same values without
 * sharing anything but N.
 */
import { nationalIdCheckChar } from '../../src/identifiers/national-id.js';
import type { IdentifierInput } from '../../src/service/tokenizer.js';
import type { CreateListingInput } from '../../src/service/listings.js';
import { prng } from '../helpers/prng.js';

export interface Person {
  phone: string;
  nationalId: string;
  email: string;
}

/** Mobile prefixes of the three carriers that libphonenumber's CN metadata accepts as mobile. */
const PHONE_PREFIXES = [
  '130',
  '131',
  '132',
  '133',
  '135',
  '136',
  '137',
  '138',
  '139',
  '150',
  '151',
  '152',
  '155',
  '156',
  '157',
  '158',
  '159',
  '180',
  '181',
  '182',
  '183',
  '185',
  '186',
  '187',
  '188',
  '189',
];
/** Real district codes (Beijing, Shanghai, Guangzhou, Shenzhen, Chengdu, Hangzhou, Wuhan, Xi'an). */
const REGIONS = ['110105', '310104', '440106', '440305', '510107', '330106', '420106', '610113'];
const NAMES = ['wang', 'li', 'zhang', 'liu', 'chen', 'yang', 'huang', 'zhao', 'wu', 'zhou', 'xu', 'sun', 'ma', 'zhu', 'hu', 'guo'];
const DOMAINS = ['qq.com', '163.com', '126.com', 'gmail.com', 'outlook.com', 'sina.com', 'foxmail.com'];
const CATEGORIES = ['fraud', 'rumor', 'impersonation', 'illegal_profit', 'doxxing'];

/** Multiplying by a number coprime to the modulus is a bijection on 0..M-1: distinct in, distinct out. */
const SCRAMBLE = 2_654_435_761n;
const PHONE_SPACE = 100_000_000n;
const DAYS = 20_000; // 1950-01-01 + up to ~54 years
const ID_SPACE = BigInt(REGIONS.length * 1000 * DAYS);
const BIRTH_EPOCH = Date.UTC(1950, 0, 1);
/** Indices stay below this so every scrambled value space above stays injective. */
export const MAX_PEOPLE = 50_000_000;

function scramble(k: number, space: bigint): number {
  return Number((BigInt(k) * SCRAMBLE) % space);
}

export function person(k: number): Person {
  if (!Number.isInteger(k) || k < 0 || k >= MAX_PEOPLE) throw new RangeError(`person index ${k} out of range`);
  const prefix = PHONE_PREFIXES[k % PHONE_PREFIXES.length]!;
  const phone = prefix + String(scramble(Math.floor(k / PHONE_PREFIXES.length), PHONE_SPACE)).padStart(8, '0');

  const j = scramble(k, ID_SPACE);
  const region = REGIONS[j % REGIONS.length]!;
  const rest = Math.floor(j / REGIONS.length);
  const sequence = String(rest % 1000).padStart(3, '0');
  const birth = new Date(BIRTH_EPOCH + Math.floor(rest / 1000) * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
  const first17 = region + birth + sequence;

  // Letters then digits: unique even after gmail drops the dot.
  const email = `${NAMES[k % NAMES.length]!}.${scramble(k, 4_294_967_296n)}@${DOMAINS[k % DOMAINS.length]!}`;
  return { phone, nationalId: first17 + nationalIdCheckChar(first17), email };
}

/** How a platform might spell the number at sign-up; all normalise to the same E.164 number. */
function spellPhone(digits: string, variant: number): string {
  switch (variant % 4) {
    case 0:
      return digits;
    case 1:
      return `${digits.slice(0, 3)} ${digits.slice(3, 7)} ${digits.slice(7)}`;
    case 2:
      return `+86 ${digits.slice(0, 3)}-${digits.slice(3, 7)}-${digits.slice(7)}`;
    default:
      return `0086${digits}`;
  }
}

export function identifiersOf(p: Person, variant = 0): IdentifierInput[] {
  return [
    { type: 'phone', value: spellPhone(p.phone, variant) },
    { type: 'national_id', value: p.nationalId },
    { type: 'email', value: p.email },
  ];
}

/** The listing the bench node holds for person k: a permanent ban that began a day ago. */
export function listingInput(k: number, now: Date): CreateListingInput {
  return {
    identifiers: identifiersOf(person(k)),
    category: CATEGORIES[k % CATEGORIES.length]!,
    severity: 'severe',
    bannedAt: new Date(now.getTime() - 86_400_000).toISOString(),
    banUntil: null,
    reference: `acct-${k}`,
  };
}

export type Expected = 'deny' | 'review' | 'allow';

export interface CheckBody {
  /** The JSON text sent; the echo server gets the very same bytes. */
  json: string;
  identifiers: IdentifierInput[];
  expected: Expected;
  /** The listed person the body reuses (deny: all identifiers, review: the email); none for allow. */
  listedPerson?: number;
}

export const MIX = { deny: 0.1, review: 0.1, allow: 0.8 } as const;

/**
 * `count` distinct registration-check bodies, three identifiers each: 10% a listed person (deny:
 * ID number and phone match), 10% a new person who reuses a listed person's email (review: email
 * alone), 80% a new person (allow). New people are never listed (index ≥ listed).
 */
export function checkBodies(listed: number, count: number, seed = 1): CheckBody[] {
  const random = prng(seed);
  const out: CheckBody[] = [];
  for (let b = 0; b < count; b++) {
    const r = random();
    const fresh = person(listed + b);
    let identifiers: IdentifierInput[];
    let expected: Expected;
    const k = Math.floor(random() * listed);
    if (r < MIX.deny) {
      identifiers = identifiersOf(person(k), b);
      expected = 'deny';
    } else if (r < MIX.deny + MIX.review) {
      identifiers = identifiersOf({ ...fresh, email: person(k).email }, b);
      expected = 'review';
    } else {
      identifiers = identifiersOf(fresh, b);
      expected = 'allow';
    }
    out.push({ json: JSON.stringify({ identifiers }), identifiers, expected, ...(expected === 'allow' ? {} : { listedPerson: k }) });
  }
  return out;
}
