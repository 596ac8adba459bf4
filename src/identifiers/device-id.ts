/**
 * Device identifiers (docs/PROTOCOL.md, "Identifiers and tokens", device_id): IMEI-family numbers
 * and UUID-form IDs.
 *
 * IMEI (15 digits: TAC 8 + SNR 6 + Luhn check digit), IMEISV (16 digits: TAC + SNR + 2-digit
 * software version) and a bare TAC+SNR (14 digits) all name one handset, so all reduce to the
 * 14-digit TAC+SNR: a software update must not change the token. UUID-form IDs (iOS
 * identifierForVendor, IDFA, UUID-form OAIDs) are lower-cased; the nil and max UUIDs are what a
 * device reports when tracking is limited, shared by millions of devices, so they are rejected.
 */
import { accept, reject, type NormaliseResult } from './types.js';

const MAX_INPUT_LENGTH = 64;

/** 8-4-4-4-12 hex digits (matched after lower-casing), optionally inside a pair of braces. */
const UUID_RE = /^(\{)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(\})?$/;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** Luhn (ISO/IEC 7812-1 annex B) over a digit string whose last digit is the check digit. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

function normaliseImei(digits: string): NormaliseResult {
  if (digits.length === 15 && !luhnValid(digits)) return reject('IMEI check digit does not match');
  const tacSnr = digits.slice(0, 14);
  // Emulators and permission-denied APIs report zeros; a token of them would match everyone.
  if (/^0+$/.test(tacSnr)) return reject('IMEI is all zeros');
  return accept(`imei:${tacSnr}`);
}

export function normaliseDeviceId(raw: string): NormaliseResult {
  if (raw.length > MAX_INPUT_LENGTH) return reject('device id is too long');
  // NFKC maps full-width digits and letters to ASCII.
  const text = raw.normalize('NFKC').trim().toLowerCase();
  // Our own output ('imei:…', 'uuid:…') is accepted again, so normalising is idempotent; the
  // prefix only allows its own kind of id.
  const prefix = /^(imei|uuid):/.exec(text)?.[1];
  const body = prefix === undefined ? text : text.slice(prefix.length + 1);

  const digits = body.replace(/[ -]/g, '');
  if (prefix !== 'uuid' && /^[0-9]{14,16}$/.test(digits)) return normaliseImei(digits);

  const match = prefix === 'imei' ? null : UUID_RE.exec(body);
  const bracesBalanced = match !== null && (match[1] === undefined) === (match[3] === undefined);
  if (match !== null && bracesBalanced) {
    const uuid = match[2]!;
    if (uuid === NIL_UUID || uuid === MAX_UUID) return reject('UUID is the nil or max UUID, not a device id');
    return accept(`uuid:${uuid}`);
  }
  return reject('not an IMEI or UUID device id');
}
