/** Identifier normalisation and token derivation: a pure core, no I/O. */
export {
  IDENTIFIER_TYPES,
  IDENTIFIER_TYPE_CODES,
  isIdentifierType,
  type IdentifierType,
  type NormaliseOptions,
  type NormaliseResult,
} from './types.js';
export { normaliseIdentifier, MAX_IDENTIFIER_INPUT_LENGTH } from './normalise.js';
export { isSupportedPhoneRegion } from './phone.js';
export { nationalIdCheckChar } from './national-id.js';
export {
  createHmacTokenDeriver,
  deriveTokenKey,
  EPOCH_SECRET_LENGTH,
  HMAC_TOKEN_SCHEME,
  HMAC_TOKEN_VERSION,
  MAX_EPOCH,
  TOKEN_LENGTH,
  TOKEN_SALT,
  type EpochSecret,
  type TokenDeriver,
} from './tokens.js';
