/**
 * Token derivation (docs/PROTOCOL.md, "Identifiers and tokens"; DESIGN.md "Tokens (privacy)").
 *
 * A token is a keyed hash of a normalised identifier under an epoch secret issued by the
 * association. Derivation sits behind `TokenDeriver` so the later OPRF mode (RFC 9497) can replace
 * the HMAC scheme without touching callers.
 *
 * Scheme `jointban-hmac-v1`, byte-exact:
 *   salt      = SHA-256("jointban/token/salt/v1")
 *   K(e,t)    = HKDF-SHA256(ikm = secret_e, salt, info = "jointban/token/v1" ‖ 0x00 ‖ u32be(e) ‖ u8(code(t)), L = 32)
 *   token     = HMAC-SHA256(K(e,t), 0x01 ‖ u8(code(t)) ‖ u16be(len) ‖ utf8(normalised))[0..16)
 * The type code and the length prefix make the message unambiguous (no separators to escape), and
 * the type is bound twice, in the key and the message, so equal bytes of two types never collide.
 * The version names the normalisation rules too: changing a rule means a new scheme version.
 */
import { hkdfSha256, keyedHmacSha256, sha256 } from '../crypto/index.js';
import { concatBytes, utf8 } from '../crypto/encoding.js';
import { IDENTIFIER_TYPE_CODES, IDENTIFIER_TYPES, type IdentifierType } from './types.js';

export const HMAC_TOKEN_SCHEME = 'jointban-hmac-v1';
export const HMAC_TOKEN_VERSION = 0x01;
export const TOKEN_LENGTH = 16;
export const EPOCH_SECRET_LENGTH = 32;
export const MAX_EPOCH = 0xffffffff;

/** Fixed and public: it separates jointban's HKDF outputs from any other use of the same secret. */
export const TOKEN_SALT: Uint8Array = sha256(utf8('jointban/token/salt/v1'));
const KEY_INFO_PREFIX = utf8('jointban/token/v1');
const KEY_LENGTH = 32;
const MAX_VALUE_BYTES = 0xffff;

export interface EpochSecret {
  epoch: number;
  /** 32 random bytes issued by the association for this epoch. Never log it. */
  secret: Uint8Array;
}

export interface TokenDeriver {
  /** Names the derivation and the normalisation rules it expects, e.g. `jointban-hmac-v1`. */
  readonly scheme: string;
  /** The epochs this deriver holds secrets for, ascending. */
  readonly epochs: readonly number[];
  /**
   * The 16-byte token of an identifier already normalised by `normaliseIdentifier`. Throws on an
   * epoch it holds no secret for: that is a programming error, not bad input.
   */
  derive(type: IdentifierType, normalised: string, epoch: number): Uint8Array;
}

function isValidEpoch(epoch: number): boolean {
  return Number.isInteger(epoch) && epoch >= 1 && epoch <= MAX_EPOCH;
}

function u8(value: number): Uint8Array {
  return Uint8Array.of(value);
}

function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
}

/** K(e,type), exported for test vectors and other implementations' debugging. */
export function deriveTokenKey(secret: Uint8Array, epoch: number, type: IdentifierType): Uint8Array {
  const code = IDENTIFIER_TYPE_CODES[type];
  // Callers outside TypeScript could pass anything; a missing code must not silently become 0.
  if (code === undefined) throw new RangeError('unknown identifier type');
  if (!isValidEpoch(epoch)) throw new RangeError('epoch must be an integer from 1 to 2^32-1');
  if (secret.length !== EPOCH_SECRET_LENGTH) throw new RangeError(`an epoch secret must be exactly ${EPOCH_SECRET_LENGTH} bytes`);
  const info = concatBytes(KEY_INFO_PREFIX, u8(0x00), u32be(epoch), u8(code));
  return hkdfSha256(secret, TOKEN_SALT, info, KEY_LENGTH);
}

export function createHmacTokenDeriver(epochs: readonly EpochSecret[]): TokenDeriver {
  if (epochs.length === 0) throw new RangeError('at least one epoch secret is required');
  // Keys are derived once here; the secrets themselves are not kept.
  const macs = new Map<number, ReadonlyMap<IdentifierType, (message: Uint8Array) => Uint8Array>>();
  for (const { epoch, secret } of epochs) {
    if (!isValidEpoch(epoch)) throw new RangeError('epoch must be an integer from 1 to 2^32-1');
    if (!(secret instanceof Uint8Array) || secret.length !== EPOCH_SECRET_LENGTH) {
      throw new RangeError(`the secret of epoch ${epoch} must be exactly ${EPOCH_SECRET_LENGTH} bytes`);
    }
    if (macs.has(epoch)) throw new RangeError(`epoch ${epoch} is given more than once`);
    const perType = new Map<IdentifierType, (message: Uint8Array) => Uint8Array>();
    for (const type of IDENTIFIER_TYPES) perType.set(type, keyedHmacSha256(deriveTokenKey(secret, epoch, type)));
    macs.set(epoch, perType);
  }
  const epochList = Object.freeze([...macs.keys()].sort((a, b) => a - b));

  return {
    scheme: HMAC_TOKEN_SCHEME,
    epochs: epochList,
    derive(type, normalised, epoch) {
      const mac = macs.get(epoch)?.get(type);
      if (mac === undefined) {
        throw new RangeError(macs.has(epoch) ? 'unknown identifier type' : `no secret for epoch ${String(epoch)}`);
      }
      // One buffer, written in place: 0x01 ‖ code ‖ u16be(len) ‖ utf8(normalised).
      const length = Buffer.byteLength(normalised, 'utf8');
      if (length === 0 || length > MAX_VALUE_BYTES) {
        throw new RangeError('normalised identifier must be 1 to 65535 UTF-8 bytes');
      }
      const message = Buffer.allocUnsafe(4 + length);
      message[0] = HMAC_TOKEN_VERSION;
      message[1] = IDENTIFIER_TYPE_CODES[type];
      message.writeUInt16BE(length, 2);
      message.write(normalised, 4, 'utf8');
      return mac(message).slice(0, TOKEN_LENGTH);
    },
  };
}
