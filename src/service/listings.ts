/**
 * Listing and retracting the node's own bans: each is one append to the node's own log, with the
 * listings projection and token index updated in the same transaction. The call returns only after
 * the transaction committed (SQLite synchronous=FULL), so an acknowledged listing is durable.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import { encodeEntry, listingId, parseListingId, type ListingEntry, type RetractionEntry, type RetractionReason } from '../log/entry.js';
import { monetizationSuspensionEnd, type Policy } from '../policy/index.js';
import { ListingReader, ListingWriter, type ListingRow } from '../store/listing-repository.js';
import { LogWriter } from '../store/log-repository.js';
import type { Database } from '../store/tables.js';
import type { IdentifierType } from '../identifiers/types.js';
import type { IdentifierInput, Tokenizer } from './identifiers.js';

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
  tokenizer: Tokenizer;
  now: () => Date;
  /** Called after a commit that appended to the node's own log (the checkpoint signer listens). */
  onAppend?: (origin: string, size: number) => void;
}

const DAY_MS = 86_400_000;

export function statusOf(row: Pick<ListingRow, 'status' | 'expires_at'>, now: Date): ListingStatus {
  if (row.status === 'retracted') return 'retracted';
  return row.expires_at <= now.toISOString() ? 'expired' : 'active';
}

function iso(value: string, field: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new AppError('invalid_input', `${field}: not a valid date-time`);
  return new Date(t).toISOString();
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
    const { deps } = this;
    const now = deps.now();
    if (input.severity !== 'severe') throw new AppError('invalid_input', 'severity: only "severe" listings are shared');
    if (!deps.categories.includes(input.category)) {
      throw new AppError('invalid_input', `category: "${input.category}" is not one of ${deps.categories.join(', ')}`);
    }
    const bannedAt = input.bannedAt !== undefined ? iso(input.bannedAt, 'bannedAt') : now.toISOString();
    if (bannedAt > now.toISOString()) throw new AppError('invalid_input', 'bannedAt: must not be in the future');
    const banUntil = input.banUntil === null ? null : iso(input.banUntil, 'banUntil');
    if (banUntil !== null && banUntil <= bannedAt) throw new AppError('invalid_input', 'banUntil: must be after bannedAt');
    const expiresAt = input.expiresAt !== undefined ? iso(input.expiresAt, 'expiresAt') : this.defaultExpiry(bannedAt, banUntil);
    if (expiresAt <= now.toISOString()) throw new AppError('invalid_input', 'expiresAt: must be in the future');
    const tokens = deps.tokenizer.tokensFor(input.identifiers);

    const { entry, size } = await deps.db.transaction().execute(async (trx) => {
      const log = new LogWriter(trx);
      const seq = (await log.size(deps.member)) + 1;
      const entry: ListingEntry = {
        v: 1,
        kind: 'listing',
        origin: deps.member,
        seq,
        time: now.toISOString(),
        category: input.category,
        severity: 'severe',
        bannedAt,
        banUntil,
        expiresAt,
        ...(input.evidenceDigest !== undefined ? { evidenceDigest: input.evidenceDigest } : {}),
        tokens: tokens.map((t) => ({ type: t.type, epoch: t.epoch, token: t.hex })),
      };
      await log.append(deps.member, [{ seq, kind: 'listing', time: entry.time, bytes: encodeEntry(entry) }]);
      await new ListingWriter(trx).insertListing(entry, input.reference ?? null);
      return { entry, size: seq };
    });
    deps.onAppend?.(deps.member, size);
    return {
      id: listingId(entry.origin, entry.seq),
      origin: entry.origin,
      seq: entry.seq,
      status: 'active',
      tokens: entry.tokens.map((t) => ({ type: t.type, epoch: t.epoch, token: t.token })),
    };
  }

  async retract(id: string, reason: RetractionReason): Promise<ListingView> {
    const { deps } = this;
    if (!parseListingId(id).ok) throw new AppError('not_found', `no listing ${id}`);
    const now = deps.now();
    const size = await deps.db.transaction().execute(async (trx) => {
      const listings = new ListingWriter(trx);
      const row = await listings.byId(id);
      if (!row) throw new AppError('not_found', `no listing ${id}`);
      if (row.origin !== deps.member) throw new AppError('forbidden', `listing ${id} belongs to ${row.origin}: only its origin can retract it`);
      if (row.status === 'retracted') throw new AppError('conflict', `listing ${id} is already retracted`);
      const log = new LogWriter(trx);
      const seq = (await log.size(deps.member)) + 1;
      const entry: RetractionEntry = { v: 1, kind: 'retraction', origin: deps.member, seq, time: now.toISOString(), target: row.seq, reason };
      await log.append(deps.member, [{ seq, kind: 'retraction', time: entry.time, bytes: encodeEntry(entry) }]);
      if (!(await listings.applyRetraction(entry))) throw new AppError('conflict', `listing ${id} is already retracted`);
      return seq;
    });
    deps.onAppend?.(deps.member, size);
    return this.get(id);
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
