/**
 * Raw identifiers in, tokens out: the boundary after which a raw value no longer exists. Used by
 * listing and checking alike so both derive exactly the same tokens.
 */
import { toHex } from '../crypto/encoding.js';
import { AppError, type ErrorCode } from '../errors.js';
import { normaliseIdentifier } from '../identifiers/normalise.js';
import type { TokenDeriver } from '../identifiers/tokens.js';
import type { IdentifierType } from '../identifiers/types.js';

export interface IdentifierInput {
  type: IdentifierType;
  value: string;
}

/** A token as the check looks it up. */
export interface Token {
  type: IdentifierType;
  epoch: number;
  token: Uint8Array;
}

/** A token with the hex spelling that listings show and store. */
export interface DerivedToken extends Token {
  hex: string;
}

/**
 * The tokens of one listing as its log entry carries them, or the error tokenising it raised:
 * what a tokenising worker hands back (jobs/token-pool.ts) for `ListingService.prepareListing`.
 */
export type TokenResult = { tokens: { type: IdentifierType; epoch: number; token: string }[] } | { error: { code: ErrorCode; message: string } };

export class Tokenizer {
  /**
   * `now` is the clock normalisation is judged against (a national ID born after today is refused):
   * the node passes its own, the import's token workers use the real one.
   */
  constructor(
    private readonly deriver: TokenDeriver,
    private readonly defaultRegion: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get epochs(): readonly number[] {
    return this.deriver.epochs;
  }

  /** The newest epoch held: what `jointban import --relist` moves bans onto (jobs/relist.ts). */
  get newestEpoch(): number {
    return this.deriver.epochs.at(-1) as number;
  }

  /**
   * Tokens for a new listing: under every epoch held, like a check. During an epoch overlap the
   * nodes of a federation do not all hold the same epochs (each adds the new one, and later drops
   * the old one, at its own restart), and a listing must match at every node that holds any of the
   * lister's epochs; the procedure (docs/OPERATIONS.md) keeps one epoch common to all nodes at
   * every step.
   */
  tokensForListing(identifiers: readonly IdentifierInput[]): DerivedToken[] {
    return this.tokensFor(identifiers);
  }

  /**
   * Normalises every identifier and derives its token under every configured epoch (a check
   * during an epoch overlap matches listings of either), or under the given ones. An invalid
   * identifier fails the whole call, naming its index and type but never its value. Duplicates
   * collapse to one token.
   */
  tokensFor(identifiers: readonly IdentifierInput[], epochs: readonly number[] = this.deriver.epochs): DerivedToken[] {
    return this.tokensForCheck(identifiers, epochs).map((t) => ({ type: t.type, epoch: t.epoch, token: t.token, hex: toHex(t.token) }));
  }

  /**
   * The same tokens without their hex spelling, which the check never needs (hex-encoding them
   * was a visible share of a check's CPU).
   */
  tokensForCheck(identifiers: readonly IdentifierInput[], epochs: readonly number[] = this.deriver.epochs): Token[] {
    // Equal normalised values of one type give equal tokens, so duplicates are dropped before
    // hashing. A type name holds no ':', so the key's first ':' ends the type.
    const seen = new Set<string>();
    const out: Token[] = [];
    const options = { defaultRegion: this.defaultRegion, now: this.now().getTime() };
    for (let index = 0; index < identifiers.length; index++) {
      const id = identifiers[index]!;
      const result = normaliseIdentifier(id.type, id.value, options);
      if (!result.ok) throw new AppError('invalid_identifier', `identifiers[${index}] (${id.type}): ${result.reason}`);
      const key = `${id.type}:${result.value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const epoch of epochs) out.push({ type: id.type, epoch, token: this.deriver.derive(id.type, result.value, epoch) });
    }
    return out;
  }
}
