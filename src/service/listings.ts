/**
 * Listing and retracting the node's own bans: each is one append to the node's own log (a batch of
 * listings is one append), with the listings projection and token index updated in the same
 * transaction. The call returns only after the transaction committed (SQLite synchronous=FULL), so
 * an acknowledged listing is durable.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import { encodeEntry, listingId, MAX_TOKENS, parseListingId, type ListingEntry, type LogEntry, type RetractionEntry, type RetractionReason } from '../log/entry.js';
import { checkLogEntry, describeFailure } from '../log/validate.js';
import type { Roster } from '../roster/index.js';
import { monetizationSuspensionEnd, type Policy } from '../policy/index.js';
import { ListingReader, ListingWriter, type ListingRow } from '../store/listing-repository.js';
import { bulkAppendOf } from '../store/database.js';
import { LogWriter } from '../store/log-repository.js';
import type { Database } from '../store/tables.js';
import type { IdentifierType } from '../identifiers/types.js';
import type { IdentifierInput, TokenResult, Tokenizer } from './tokenizer.js';
import { attachReferences, findUnreferenced, type BanToMatch } from './reconnect.js';

export interface CreateListingInput {
  identifiers: IdentifierInput[];
  category: string;
  severity: string;
  bannedAt?: string | undefined;
  banUntil: string | null;
  expiresAt?: string | undefined;
  reference?: string | undefined;
  evidenceDigest?: string | undefined;
}

export interface CreatedListing {
  id: string;
  origin: string;
  seq: number;
  status: ListingStatus;
  tokens: { type: IdentifierType; epoch: number; token: string }[];
}

export type ListingStatus = 'active' | 'retracted' | 'expired';

/** A listing checked and tokenised by `prepareListing`, not yet written. */
export interface PreparedListing {
  readonly entry: Omit<ListingEntry, 'seq'>;
  readonly reference: string | null;
}

export interface ListingView {
  id: string;
  origin: string;
  seq: number;
  status: ListingStatus;
  category: string;
  severity: string;
  listedAt: string;
  bannedAt: string;
  banUntil: string | null;
  expiresAt: string;
  evidenceDigest: string | null;
  retractedAt: string | null;
  retractionReason: string | null;
  reference: string | null;
  tokens: { type: IdentifierType; epoch: number; token: string }[];
}

export interface ListingServiceDeps {
  db: Kysely<Database>;
  member: string;
  categories: readonly string[];
  policy: Policy;
  permanentRetentionDays: number;
  /** The latest `expiresAt` a listing may have, in days from now (`listings.maxListingDays`); 100 years when absent. */
  maxListingDays?: number | undefined;
  tokenizer: Tokenizer;
  now: () => Date;
  /** Called after a commit that appended to the node's own log (the checkpoint signer listens). */
  onAppend?: (origin: string, size: number) => void;
  /** Throws while the own log must not be appended to (a restored node still recovering it). */
  assertWritable?: () => void;
  /**
   * The roster this node holds, if any: its own entries are checked against the member's period
   * in it (suspended, or not a member), as its peers and `jointban verify` check them.
   */
  roster?: (() => Roster | undefined) | undefined;
  /**
   * Resolves once the own log up to `size` is as durable as the node promises (durability.mode
   * "witnessed": cosigned by the witness); absent, a local commit is enough.
   */
  awaitDurable?: ((size: number) => Promise<void>) | undefined;
}

const DAY_MS = 86_400_000;

export function statusOf(row: Pick<ListingRow, 'status' | 'expires_at'>, now: Date): ListingStatus {
  if (row.status === 'retracted') return 'retracted';
  return row.expires_at <= now.toISOString() ? 'expired' : 'active';
}

/** The default of `listings.maxListingDays`: 100 years. */
export const MAX_LISTING_DAYS = 36_500;

function iso(value: string, field: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new AppError('invalid_input', `${field}: not a valid date-time`);
  return new Date(t).toISOString();
}

/**
 * The node's own entry, before it is appended, against the rules every node checks it by
 * (log/validate.ts): a node never appends an entry its peers and `jointban verify` refuse. Where
 * the node holds a roster, a suspended member is refused with `forbidden` and nothing is written:
 * an entry dated after the suspension stays refused everywhere. A member the roster does not list
 * yet (a platform importing its bans before the association adds it) may still write: its log
 * counts once it is listed. A node that holds no roster leaves the roster period to its peers.
 * Every other input was validated before: another failure here is a fault of this node.
 */
function assertBelongs(member: string, roster: Roster | undefined, entry: LogEntry, isListing: (seq: number) => boolean): void {
  const failure = checkLogEntry({ origin: member, roster, earlier: { isListing } }, entry.seq - 1, entry);
  if (failure === undefined || failure.code === 'unknown_member') return;
  if (failure.code === 'suspended_member') {
    throw new AppError('forbidden', `${member} is suspended in the roster this node holds: every peer would refuse its entries, so nothing was written`);
  }
  throw new Error(`refusing to append to the own log: ${describeFailure(member, entry.seq - 1, failure)}`);
}

export class ListingService {
  constructor(private readonly deps: ListingServiceDeps) {}

  /** When a listing stops being shared by default: once no joint penalty can depend on it. */
  private defaultExpiry(bannedAt: string, banUntil: string | null): string {
    if (banUntil === null) return new Date(Date.parse(bannedAt) + this.deps.permanentRetentionDays * DAY_MS).toISOString();
    const end = monetizationSuspensionEnd(this.deps.policy, { bannedAt, banUntil });
    return (end ?? new Date(Date.parse(banUntil))).toISOString();
  }

  async create(input: CreateListingInput): Promise<CreatedListing> {
    const [created] = await this.append([input], false);
    return created!;
  }

  /**
   * Lists several bans in one transaction: the same checks and entries as `create`, with
   * consecutive seqs, all or nothing. An error names the item: `listings[3].identifiers[0] (phone): …`.
   */
  createMany(inputs: readonly CreateListingInput[]): Promise<CreatedListing[]> {
    return this.append(inputs, true);
  }

  /**
   * The checks and tokens of `create` for one listing, without writing it. A bulk caller (the
   * import) prepares row by row, sets the invalid rows aside and appends the rest as one batch, so
   * one bad row does not fail its batch and each identifier is still tokenised only once.
   * `tokens`: the row's identifiers already tokenised by a TokenPool (the same Tokenizer on another
   * thread), used in place of tokenising them here; every other check runs as without it.
   */
  prepareListing(input: CreateListingInput, tokens?: TokenResult): PreparedListing {
    return { entry: this.prepare(input, this.deps.now(), tokens), reference: input.reference ?? null };
  }

  /** Appends listings from `prepareListing` in one transaction, stamped with the time of the append. */
  appendPrepared(items: readonly PreparedListing[]): Promise<CreatedListing[]> {
    if (items.length === 0) return Promise.resolve([]);
    const time = this.deps.now().toISOString();
    return this.write(items.map((p) => ({ entry: { ...p.entry, time }, reference: p.reference })));
  }

  /**
   * For each ban, the id of one of this node's own active listings without a reference that is that
   * ban (a listing fetched back from peers after a restore), or undefined (service/reconnect.ts).
   */
  unreferencedMatches(bans: readonly BanToMatch[]): Promise<(string | undefined)[]> {
    return findUnreferenced(this.deps.db, this.deps.member, bans, this.deps.now().toISOString());
  }

  /** Whether any of this node's own listings lacks a reference (so `unreferencedMatches` can find anything). */
  hasUnreferenced(): Promise<boolean> {
    return new ListingReader(this.deps.db).hasUnreferenced(this.deps.member);
  }

  /** Records platform references on own listings that have none; no log entry (the log never holds references). */
  attachReferences(pairs: readonly { id: string; reference: string }[]): Promise<number> {
    return attachReferences(this.deps.db, this.deps.member, pairs);
  }

  /** Which of these references name one of this node's own listings, whatever its status. */
  listedReferences(references: readonly string[]): Promise<Set<string>> {
    return new ListingReader(this.deps.db).referencesListed(this.deps.member, references);
  }

  /** Everything of a listing entry but its seq, which is known only inside the transaction. */
  private prepare(input: CreateListingInput, now: Date, pooled?: TokenResult): Omit<ListingEntry, 'seq'> {
    const { deps } = this;
    if (input.severity !== 'severe') throw new AppError('invalid_input', 'severity: only "severe" listings are shared');
    if (!deps.categories.includes(input.category)) {
      throw new AppError('invalid_input', `category: "${input.category}" is not one of ${deps.categories.join(', ')}`);
    }
    const bannedAt = input.bannedAt !== undefined ? iso(input.bannedAt, 'bannedAt') : now.toISOString();
    if (bannedAt > now.toISOString()) throw new AppError('invalid_input', 'bannedAt: must not be in the future');
    const banUntil = input.banUntil === null ? null : iso(input.banUntil, 'banUntil');
    if (banUntil !== null && banUntil <= bannedAt) throw new AppError('invalid_input', 'banUntil: must be after bannedAt');
    const expiresAt = input.expiresAt !== undefined ? iso(input.expiresAt, 'expiresAt') : this.defaultExpiry(bannedAt, banUntil);
    // A listing that never lapses outlives every penalty and the person's record at the origin.
    // Compared as numbers: an ISO string past year 9999 starts with "+" and sorts first.
    const maxDays = deps.maxListingDays ?? MAX_LISTING_DAYS;
    const expiresMs = Date.parse(expiresAt);
    if (expiresMs <= now.getTime()) throw new AppError('invalid_input', 'expiresAt: must be in the future');
    if (expiresMs > now.getTime() + maxDays * DAY_MS) {
      const why = input.expiresAt === undefined ? ' (the default, from banUntil and the policy; give an earlier banUntil or an expiresAt)' : '';
      throw new AppError('invalid_input', `expiresAt: must be at most ${maxDays} days from now (listings.maxListingDays)${why}`);
    }
    // Tokenised last, here or in the pool: a row with a bad date and a bad phone is refused for its date either way.
    if (pooled !== undefined && 'error' in pooled) throw new AppError(pooled.error.code, pooled.error.message);
    const tokens = pooled?.tokens ?? deps.tokenizer.tokensForListing(input.identifiers).map((t) => ({ type: t.type, epoch: t.epoch, token: t.hex }));
    if (tokens.length > MAX_TOKENS) {
      // Each identifier gives a token per epoch held: the entry's token limit (PROTOCOL.md) is reached sooner during an overlap.
      const epochs = deps.tokenizer.epochs.length;
      throw new AppError(
        'invalid_input',
        `identifiers: ${tokens.length} tokens (each identifier under ${epochs} epochs), a listing carries at most ${MAX_TOKENS}: give at most ${Math.floor(MAX_TOKENS / epochs)} identifiers while this node holds ${epochs} epochs`,
      );
    }
    return {
      v: 1,
      kind: 'listing',
      origin: deps.member,
      time: now.toISOString(),
      category: input.category,
      severity: 'severe',
      bannedAt,
      banUntil,
      expiresAt,
      ...(input.evidenceDigest !== undefined ? { evidenceDigest: input.evidenceDigest } : {}),
      tokens,
    };
  }

  /** Validates every input before the transaction opens, then appends them all in it. */
  private async append(inputs: readonly CreateListingInput[], batch: boolean): Promise<CreatedListing[]> {
    const { deps } = this;
    if (inputs.length === 0) return [];
    const now = deps.now();
    const prepared = inputs.map((input, i) => {
      try {
        return this.prepare(input, now);
      } catch (err) {
        if (batch && err instanceof AppError) throw new AppError(err.code, `listings[${i}].${err.message}`);
        throw err;
      }
    });
    return this.write(prepared.map((entry, i) => ({ entry, reference: inputs[i]!.reference ?? null })));
  }

  /** Appends prepared listings to the own log and the listings projection in one transaction. */
  private async write(items: readonly PreparedListing[]): Promise<CreatedListing[]> {
    const { deps } = this;
    deps.assertWritable?.();
    const bulk = bulkAppendOf(deps.db);
    const { entries, size } = await deps.db.transaction().execute(async (trx) => {
      const log = new LogWriter(trx, bulk);
      const first = (await log.size(deps.member)) + 1;
      const entries: ListingEntry[] = items.map((p, i) => ({ ...p.entry, seq: first + i }));
      const roster = deps.roster?.();
      for (const entry of entries) assertBelongs(deps.member, roster, entry, () => false);
      await log.append(
        deps.member,
        entries.map((entry) => ({ seq: entry.seq, kind: 'listing', time: entry.time, bytes: encodeEntry(entry) })),
      );
      await new ListingWriter(trx, deps.now(), bulk).insertListings(entries.map((entry, i) => ({ entry, reference: items[i]!.reference })));
      return { entries, size: first + entries.length - 1 };
    });
    deps.onAppend?.(deps.member, size);
    await this.durable(
      size,
      entries.map((e) => listingId(e.origin, e.seq)),
    );
    return entries.map((entry) => ({
      id: listingId(entry.origin, entry.seq),
      origin: entry.origin,
      seq: entry.seq,
      status: 'active',
      tokens: entry.tokens.map((t) => ({ type: t.type, epoch: t.epoch, token: t.token })),
    }));
  }

  async retract(id: string, reason: RetractionReason): Promise<ListingView> {
    const { deps } = this;
    if (!parseListingId(id).ok) throw new AppError('not_found', `no listing ${id}`);
    deps.assertWritable?.();
    const now = deps.now();
    const bulk = bulkAppendOf(deps.db);
    const size = await deps.db.transaction().execute(async (trx) => {
      const listings = new ListingWriter(trx, now, bulk);
      const row = await listings.byId(id);
      if (!row) throw new AppError('not_found', `no listing ${id}`);
      if (row.origin !== deps.member) throw new AppError('forbidden', `listing ${id} belongs to ${row.origin}: only its origin can retract it`);
      if (row.status === 'retracted') throw new AppError('conflict', `listing ${id} is already retracted`);
      const log = new LogWriter(trx, bulk);
      const seq = (await log.size(deps.member)) + 1;
      const entry: RetractionEntry = { v: 1, kind: 'retraction', origin: deps.member, seq, time: now.toISOString(), target: row.seq, reason };
      // The listings projection holds listing entries only: the row found is the target's kind.
      assertBelongs(deps.member, deps.roster?.(), entry, (target) => target === row.seq);
      await log.append(deps.member, [{ seq, kind: 'retraction', time: entry.time, bytes: encodeEntry(entry) }]);
      if (!(await listings.applyRetraction(entry))) throw new AppError('conflict', `listing ${id} is already retracted`);
      return seq;
    });
    deps.onAppend?.(deps.member, size);
    await this.durable(size, [`the retraction of ${id}`]);
    return this.get(id);
  }

  /**
   * Waits for the durability the node promises beyond the local commit. A failure says what was
   * written: the entries stay in the log (an append cannot be undone), so the caller must not
   * write them again but look them up (docs/CONFIGURATION.md, "Durability").
   */
  private async durable(size: number, what: string[]): Promise<void> {
    if (!this.deps.awaitDurable) return;
    try {
      await this.deps.awaitDurable(size);
    } catch (err) {
      const shown = what.length > 3 ? `${what.slice(0, 3).join(', ')} and ${what.length - 3} more` : what.join(', ');
      throw new AppError(
        'not_witnessed',
        `${shown}: written to this node's log (up to entry ${size}) but not acknowledged: ${(err as Error).message}. It stays in the log and is shared and cosigned once the witness catches up; do not write it again (GET /v1/listings/{id} shows it)`,
      );
    }
  }

  async get(id: string): Promise<ListingView> {
    if (!parseListingId(id).ok) throw new AppError('not_found', `no listing ${id}`);
    const reader = new ListingReader(this.deps.db);
    const row = await reader.byId(id);
    if (!row) throw new AppError('not_found', `no listing ${id}`);
    const tokens = await reader.tokensOf(id);
    return {
      id: row.id,
      origin: row.origin,
      seq: row.seq,
      status: statusOf(row, this.deps.now()),
      category: row.category,
      severity: row.severity,
      listedAt: row.listed_at,
      bannedAt: row.banned_at,
      banUntil: row.ban_until,
      expiresAt: row.expires_at,
      evidenceDigest: row.evidence_digest,
      retractedAt: row.retracted_at,
      retractionReason: row.retraction_reason,
      reference: row.origin === this.deps.member ? row.reference : null,
      tokens: tokens.map((t) => ({ type: t.type, epoch: t.epoch, token: Buffer.from(t.token).toString('hex') })),
    };
  }
}
