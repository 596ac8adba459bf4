/**
 * Raw identifiers in, tokens out: the boundary after which a raw value no longer exists. Used by
 * listing and checking alike so both derive exactly the same tokens.
 */
import { toHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import { normaliseIdentifier } from '../identifiers/normalise.js';
import type { TokenDeriver } from '../identifiers/tokens.js';
import type { IdentifierType } from '../identifiers/types.js';

export interface IdentifierInput {
  type: IdentifierType;
  value: string;
}

export interface DerivedToken {
  type: IdentifierType;
  epoch: number;
  token: Uint8Array;
  hex: string;
}

export class Tokenizer {
  constructor(
    private readonly deriver: TokenDeriver,
    private readonly defaultRegion: string,
  ) {}

  get epochs(): readonly number[] {
    return this.deriver.epochs;
  }

  /** The epoch new listings are made under: the newest held (PROTOCOL.md, "Token derivation"). */
  get listingEpoch(): number {
    return this.deriver.epochs.at(-1) as number;
  }

  /**
   * Tokens for a new listing: under the newest epoch only, so a member that keeps an old secret
   * after leaving cannot enumerate what was listed after the rotation.
   */
  tokensForListing(identifiers: readonly IdentifierInput[]): DerivedToken[] {
    return this.tokensFor(identifiers, [this.listingEpoch]);
  }

  /**
   * Normalises every identifier and derives its token under every configured epoch (a check
   * during an epoch overlap matches listings of either), or under the given ones. An invalid
   * identifier fails the whole call, naming its index and type but never its value. Duplicates
   * collapse to one token.
   */
  tokensFor(identifiers: readonly IdentifierInput[], epochs: readonly number[] = this.deriver.epochs): DerivedToken[] {
    const seen = new Set<string>();
    const out: DerivedToken[] = [];
    identifiers.forEach((id, index) => {
      const result = normaliseIdentifier(id.type, id.value, { defaultRegion: this.defaultRegion });
      if (!result.ok) throw new AppError('invalid_identifier', `identifiers[${index}] (${id.type}): ${result.reason}`);
      for (const epoch of epochs) {
        const token = this.deriver.derive(id.type, result.value, epoch);
        const hex = toHex(token);
        const key = `${id.type}/${epoch}/${hex}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ type: id.type, epoch, token, hex });
      }
    });
    return out;
  }
}
