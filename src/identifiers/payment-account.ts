/**
 * Payment accounts as `provider:account` (docs/PROTOCOL.md, "Identifiers and tokens",
 * payment_account).
 *
 * The provider is a short lower-case slug agreed in the consortium (e.g. `alipay`, `wechatpay`,
 * `unionpay`). The account is kept case-sensitive: providers' stable account IDs (Alipay user_id,
 * WeChat openid-style strings, card tokens) are opaque and may differ only in case, and merging
 * them would ban someone else. Members should share the provider's stable account ID, not a login
 * name (an email or phone login belongs in its own identifier type).
 */
import { accept, reject, type NormaliseResult } from './types.js';

const MAX_INPUT_LENGTH = 1024;
const MAX_ACCOUNT_CODE_POINTS = 128;
/** Checked before lower-casing, so non-ASCII look-alikes (the Kelvin sign lower-cases to 'k') fail. */
const PROVIDER_RE = /^[A-Za-z0-9_-]{2,32}$/;
/** Whitespace, separators and invisible characters make two spellings look alike. */
const BAD_ACCOUNT_CHARS_RE = /[\s\p{Z}\p{Cc}\p{Cf}]/u;

export function normalisePaymentAccount(raw: string): NormaliseResult {
  if (raw.length > MAX_INPUT_LENGTH) return reject('payment account is too long');
  const colon = raw.indexOf(':');
  if (colon < 0) return reject('payment account must be written provider:account');
  const provider = raw.slice(0, colon).trim();
  const account = raw
    .slice(colon + 1)
    .trim()
    .normalize('NFC');
  if (!PROVIDER_RE.test(provider)) return reject('payment provider must be 2-32 characters of a-z, 0-9, _ or -');
  if (account === '') return reject('payment account is empty');
  if ([...account].length > MAX_ACCOUNT_CODE_POINTS) return reject('payment account is longer than 128 characters');
  if (BAD_ACCOUNT_CHARS_RE.test(account)) return reject('payment account contains whitespace or control characters');
  return accept(`${provider.toLowerCase()}:${account}`);
}
