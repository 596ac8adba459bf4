/**
 * Email addresses → one canonical spelling (docs/PROTOCOL.md, "Identifiers and tokens", email).
 *
 * Steps, in order: trim, NFC, lower-case (Unicode default case mapping, no locale), NFC again
 * (lower-casing can leave a string that is no longer composed); split at the only '@'; domain to
 * ASCII by the WHATWG URL "domain to ASCII" algorithm (UTS #46, non-transitional: what
 * `node:url` `domainToASCII` implements); then, for gmail.com and googlemail.com only, drop dots
 * and any '+tag' from the local part and spell the domain gmail.com, because Gmail delivers all of
 * those spellings to one mailbox. Other providers' '+' and dots are kept: for them they may name
 * different mailboxes.
 *
 * Lower-casing the local part is not RFC 5321 (which lets the local part be case-sensitive), but no
 * large provider treats it so, and a banned user changing case must not escape a match.
 */
import { domainToASCII } from 'node:url';
import { accept, reject, type NormaliseResult } from './types.js';

export const MAX_EMAIL_LENGTH = 254; // RFC 5321 path limit less the angle brackets, in octets
export const MAX_LOCAL_PART_LENGTH = 64; // RFC 5321 §4.5.3.1.1, in octets

const MAX_INPUT_LENGTH = 1024;
const GMAIL_DOMAINS: ReadonlySet<string> = new Set(['gmail.com', 'googlemail.com']);

/**
 * Characters that may not appear in an unquoted (dot-atom) local part, plus whitespace and
 * invisible characters. Quoted local parts are not supported: no provider we share with issues them.
 */
const BAD_LOCAL_CHARS_RE = /[\s\p{Z}\p{Cc}\p{Cf}"(),:;<>@[\\\]]/u;
/**
 * Before domainToASCII, the domain may hold only letters, digits, '-', '.' and non-ASCII (for
 * IDNs): the URL host parser would otherwise percent-decode '%41' or cut at '/', silently
 * turning garbage into a different, valid domain.
 */
const BAD_DOMAIN_ASCII_RE = /[\x00-\x2c\x2f\x3a-\x60\x7b-\x7f]/;
const LDH_LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** UTF-8 length without encoding the text (a lone surrogate counts 3 bytes, as TextEncoder writes U+FFFD). */
function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * A domain that domainToASCII returns unchanged: lower-case LDH labels, at least two, none an
 * A-label ('xn--', which it decodes and validates) and a last label that is neither a number nor
 * '0x' and hex digits (which make the URL host parser read the whole host as IPv4). The common
 * case: it skips domainToASCII, a visible share of a check's CPU. The test
 * email-domain-fast-path.test.ts holds it to domainToASCII.
 */
const PLAIN_DOMAIN_RE = /^(?!xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.(?!xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.(?!xn--)(?![0-9]+$)(?!0x[0-9a-f]*$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `domain` is in the fast path of asciiDomain (exported for its test). */
export function isPlainAsciiDomain(domain: string): boolean {
  return domain.length <= 253 && PLAIN_DOMAIN_RE.test(domain);
}

/** Returns the ASCII domain, or undefined when it is not a usable Internet host name. */
function asciiDomain(domain: string): string | undefined {
  if (isPlainAsciiDomain(domain)) return domain;
  return asciiDomainSlow(domain);
}

/** asciiDomain through domainToASCII, for any domain (exported for the fast path's test). */
export function asciiDomainSlow(domain: string): string | undefined {
  if (domain === '' || BAD_DOMAIN_ASCII_RE.test(domain)) return undefined;
  const ascii = domainToASCII(domain);
  if (ascii === '' || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => LDH_LABEL_RE.test(label))) return undefined;
  // No top-level domain is numeric; this also keeps IPv4 literals out.
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return undefined;
  return ascii;
}

export function normaliseEmail(raw: string): NormaliseResult {
  if (raw.length > MAX_INPUT_LENGTH) return reject('email address is too long');
  const text = raw.trim().normalize('NFC').toLowerCase().normalize('NFC');
  const at = text.indexOf('@');
  if (at < 0 || text.indexOf('@', at + 1) >= 0) return reject('email address must contain exactly one @');
  let local = text.slice(0, at);
  let domain = asciiDomain(text.slice(at + 1));
  if (local === '') return reject('email address has an empty local part');
  if (BAD_LOCAL_CHARS_RE.test(local)) return reject('email local part contains characters that are not allowed');
  if (byteLength(local) > MAX_LOCAL_PART_LENGTH) return reject('email local part is longer than 64 bytes');
  if (domain === undefined) return reject('email domain is not a valid domain name');
  if (byteLength(local) + 1 + domain.length > MAX_EMAIL_LENGTH) return reject('email address is longer than 254 bytes');

  if (GMAIL_DOMAINS.has(domain)) {
    const plus = local.indexOf('+');
    local = (plus < 0 ? local : local.slice(0, plus)).replaceAll('.', '');
    domain = 'gmail.com';
    if (local === '') return reject('email local part is empty once dots and the +tag are removed');
  }
  return accept(`${local}@${domain}`);
}
