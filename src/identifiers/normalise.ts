/**
 * Normalisation of raw identifiers to the one spelling that is tokenised (docs/PROTOCOL.md,
 * "Identifiers and tokens"). Two platforms can only match a banned user if they turn the same
 * identifier into the same bytes, so these rules are part of the token scheme: changing any of
 * them changes the scheme version (see tokens.ts).
 *
 * Input is attacker-controlled (it arrives from member platforms' users): every rule caps the
 * input length before doing work, and no reason string ever contains the input.
 */
import { normaliseDeviceId } from './device-id.js';
import { normaliseEmail } from './email.js';
import { normaliseNationalId } from './national-id.js';
import { normalisePaymentAccount } from './payment-account.js';
import { normalisePhone } from './phone.js';
import { reject, type IdentifierType, type NormaliseOptions, type NormaliseResult } from './types.js';

/** No identifier is this long; checked first so no rule ever scans a huge input. */
export const MAX_IDENTIFIER_INPUT_LENGTH = 1024;
/** A lone UTF-16 surrogate would encode as U+FFFD, so two different inputs could give one token. */
const LONE_SURROGATE_RE = /\p{Cs}/u;

export function normaliseIdentifier(type: IdentifierType, raw: string, options: NormaliseOptions): NormaliseResult {
  if (raw.length > MAX_IDENTIFIER_INPUT_LENGTH) return reject('identifier is too long');
  if (LONE_SURROGATE_RE.test(raw)) return reject('identifier is not valid Unicode text');
  switch (type) {
    case 'phone':
      return normalisePhone(raw, options.defaultRegion);
    case 'email':
      return normaliseEmail(raw);
    case 'national_id':
      return normaliseNationalId(raw, options.now);
    case 'device_id':
      return normaliseDeviceId(raw);
    case 'payment_account':
      return normalisePaymentAccount(raw);
    default: {
      const unknown: never = type;
      throw new TypeError(`unknown identifier type ${String(unknown)}`);
    }
  }
}
