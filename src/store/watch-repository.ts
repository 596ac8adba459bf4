/**
 * The watchlist (tokens of the platform's existing accounts, by reference) and the events it
 * produces (docs/EVENTS.md). Events are recorded by `recordWatchEvents`, which the listings
 * projection writer calls inside the transaction that changes the projection, so an event can
 * never be lost to a crash between the change and its event. Every lookup goes through an index:
 * watch tokens by token (their primary key) or by reference, listing tokens by listing or token.
 */
import type { Kysely, Transaction } from 'kysely';
import type { IdentifierType } from '../identifiers/types.js';
import type { Database, WatchEventTable } from './tables.js';

/** One active listing that matches a watched reference, as recorded in an event's snapshot. */
export interface WatchMatch {
  listingId: string;
  origin: string;
  category: string;
  identifierType: IdentifierType;
  listedAt: string;
  bannedAt: string;
  banUntil: string | null;
  expiresAt: string;
}

export type EventKind = 'match' | 'lift';

/**
 * Why a listing stopped counting for a watched account: its origin retracted it, it reached its
 * `expiresAt`, or the roster suspended its origin (from `suspendedAt` on) or removed it.
 */
export const LIFT_REASONS = ['retracted', 'expired', 'member_suspended', 'member_removed'] as const;
export type LiftReason = (typeof LIFT_REASONS)[number];

export interface EventRow {
  id: number;
  kind: EventKind;
  reference: string;
  listingId: string;
  origin: string;
  category: string;
  identifierTypes: IdentifierType[];
  matches: WatchMatch[];
  time: string;
  /** Set for a lift only. */
  reason: LiftReason | undefined;
  state: WatchEventTable['state'];
  attempts: number;
  nextAttemptAt: string;
  deliveredAt: string | null;
  lastError: string | null;
}

export interface WatchToken {
  type: IdentifierType;
  epoch: number;
  token: Uint8Array;
}

type Db = Kysely<Database> | Transaction<Database>;
type EventSelect = Omit<WatchEventTable, 'id'> & { id: number | bigint };

// Bound parameters per statement stay far under SQLite's and PostgreSQL's limits.
const ID_CHUNK = 500;
const EVENT_CHUNK = 100;
const TOKEN_ROW_CHUNK = 250;

function toEvent(r: EventSelect): EventRow {
  return {
    id: Number(r.id),
    kind: r.kind,
    reference: r.reference,
    listingId: r.listing_id,
    origin: r.origin,
    category: r.category,
    identifierTypes: JSON.parse(r.identifier_types) as IdentifierType[],
    matches: JSON.parse(r.matches) as WatchMatch[],
    time: r.time,
    // Lifts recorded before migration 0005 have no reason: retractions were the only kind then.
    reason: r.kind === 'lift' ? ((r.reason ?? 'retracted') as LiftReason) : undefined,
    state: r.state,
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at,
    deliveredAt: r.delivered_at,
    lastError: r.last_error,
  };
}

/** The listings matching some references' watch tokens: by reference index, then by token (test/integration/watch-index.test.ts). */
export function activeMatchesQuery(db: Db, references: readonly string[], nowIso: string) {
  return db
    .selectFrom('watch_tokens as wt')
    .innerJoin('listing_tokens as lt', (j) => j.onRef('lt.token', '=', 'wt.token').onRef('lt.type', '=', 'wt.type'))
    .innerJoin('listings as l', 'l.id', 'lt.listing_id')
    .select(['wt.reference as watched', 'l.id', 'l.origin', 'l.category', 'lt.type', 'l.listed_at', 'l.banned_at', 'l.ban_until', 'l.expires_at'])
    .where('wt.reference', 'in', references)
    .where('l.status', '=', 'active')
    .where('l.expires_at', '>', nowIso);
}

/** The watched references of some listings: listing tokens by listing, then watch tokens by token. */
export function watchHitsQuery(db: Db, listingIds: readonly string[]) {
  return db
    .selectFrom('listing_tokens as lt')
    .innerJoin('watch_tokens as wt', (j) => j.onRef('wt.token', '=', 'lt.token').onRef('wt.type', '=', 'lt.type'))
    .innerJoin('listings as l', 'l.id', 'lt.listing_id')
    .select(['lt.listing_id', 'lt.type', 'wt.reference', 'l.origin', 'l.category', 'l.expires_at', 'l.reference as listed_reference'])
    .where('lt.listing_id', 'in', listingIds);
}

const byListing = (a: WatchMatch, b: WatchMatch) => (a.listingId < b.listingId ? -1 : a.listingId > b.listingId ? 1 : a.identifierType.localeCompare(b.identifierType));

/**
 * The active, unexpired listings matching each reference's watch tokens, one per listing and
 * type: one query per chunk of references, not one per reference.
 */
async function activeMatchesOf(db: Db, references: readonly string[], nowIso: string): Promise<Map<string, WatchMatch[]>> {
  const out = new Map<string, Map<string, WatchMatch>>(references.map((r) => [r, new Map()]));
  for (let i = 0; i < references.length; i += ID_CHUNK) {
    for (const r of await activeMatchesQuery(db, references.slice(i, i + ID_CHUNK), nowIso).execute()) {
      const seen = out.get(r.watched)!;
      const key = `${r.id}/${r.type}`;
      if (seen.has(key)) continue;
      seen.set(key, {
        listingId: r.id,
        origin: r.origin,
        category: r.category,
        identifierType: r.type as IdentifierType,
        listedAt: r.listed_at,
        bannedAt: r.banned_at,
        banUntil: r.ban_until,
        expiresAt: r.expires_at,
      });
    }
  }
  return new Map([...out].map(([reference, seen]) => [reference, [...seen.values()].sort(byListing)]));
}

async function activeMatches(db: Db, reference: string, nowIso: string): Promise<WatchMatch[]> {
  return (await activeMatchesOf(db, [reference], nowIso)).get(reference) ?? [];
}

interface NewEvent {
  kind: EventKind;
  reference: string;
  listingId: string;
  origin: string;
  category: string;
  identifierTypes: Iterable<string>;
  matches: WatchMatch[];
  reason?: LiftReason | undefined;
}

async function insertEvents(trx: Transaction<Database>, events: readonly NewEvent[], nowIso: string): Promise<void> {
  const rows = events.map((e) => ({
    kind: e.kind,
    reference: e.reference,
    listing_id: e.listingId,
    origin: e.origin,
    category: e.category,
    identifier_types: JSON.stringify([...new Set(e.identifierTypes)].sort()),
    matches: JSON.stringify(e.matches),
    time: nowIso,
    state: 'pending' as const,
    attempts: 0,
    next_attempt_at: nowIso,
    delivered_at: null,
    last_error: null,
    reason: e.kind === 'lift' ? (e.reason ?? 'retracted') : null,
  }));
  for (let i = 0; i < rows.length; i += EVENT_CHUNK)
    await trx
      .insertInto('watch_events')
      .values(rows.slice(i, i + EVENT_CHUNK))
      .execute();
}

/**
 * The projection hook: called by the listings projection writer in its transaction after it
 * inserted listings (`match`) or retracted one (`lift`). For each watched reference whose tokens
 * match one of these listings, records an event with the snapshot of the reference's active
 * matches after the change. A listing already expired at `now` (a peer's old entry caught up late)
 * records no match, and neither does a listing of this node's own that names the watched account
 * itself (its `reference`): the platform banned that account and knows. Returns the number of
 * events recorded.
 */
export async function recordWatchEvents(trx: Transaction<Database>, kind: EventKind, listingIds: readonly string[], now: Date, reason?: LiftReason): Promise<number> {
  if (listingIds.length === 0) return 0;
  // Most nodes watch nothing, and a bulk import appends thousands of listings: one indexed probe.
  if (!(await watchesAnything(trx))) return 0;
  const nowIso = now.toISOString();
  const hits = new Map<string, { reference: string; listingId: string; origin: string; category: string; types: Set<string> }>();
  for (let i = 0; i < listingIds.length; i += ID_CHUNK) {
    const rows = await watchHitsQuery(trx, listingIds.slice(i, i + ID_CHUNK)).execute();
    for (const r of rows) {
      if (kind === 'match' && r.expires_at <= nowIso) continue;
      // Only this node's own listings carry a reference.
      if (r.listed_reference === r.reference) continue;
      const key = `${r.reference}\u0000${r.listing_id}`;
      const hit = hits.get(key) ?? { reference: r.reference, listingId: r.listing_id, origin: r.origin, category: r.category, types: new Set<string>() };
      hit.types.add(r.type);
      hits.set(key, hit);
    }
  }
  if (hits.size === 0) return 0;
  const snapshots = await activeMatchesOf(trx, [...new Set([...hits.values()].map((h) => h.reference))], nowIso);
  const events: NewEvent[] = [...hits.values()].map((hit) => ({
    kind,
    reference: hit.reference,
    listingId: hit.listingId,
    origin: hit.origin,
    category: hit.category,
    identifierTypes: hit.types,
    matches: snapshots.get(hit.reference) ?? [],
    reason: kind === 'lift' ? (reason ?? 'retracted') : undefined,
  }));
  await insertEvents(trx, events, nowIso);
  return events.length;
}

export async function watchesAnything(db: Db): Promise<boolean> {
  return (await db.selectFrom('watch_tokens').select('reference').limit(1).executeTakeFirst()) !== undefined;
}

/** Active listings by expiry time, through `listings_expires_at` (test/integration/watch-index.test.ts). */
export function expiredBetweenQuery(db: Db, after: string, until: string, limit: number) {
  return db.selectFrom('listings').select(['id', 'expires_at']).where('expires_at', '>', after).where('expires_at', '<=', until).where('status', '=', 'active').orderBy('expires_at').limit(limit);
}

/**
 * The active listings whose `expiresAt` lies in (`after`, `until`], in expiry order, at most about
 * `limit` of them: all the listings that share the last expiry time are included, so that the next
 * call can start after that time without skipping any.
 */
export async function listingsExpiredBetween(db: Db, after: string, until: string, limit: number): Promise<{ id: string; expiresAt: string }[]> {
  const rows = await expiredBetweenQuery(db, after, until, limit).execute();
  const last = rows.at(-1);
  if (rows.length < limit || last === undefined) return rows.map((r) => ({ id: r.id, expiresAt: r.expires_at }));
  const ties = await db.selectFrom('listings').select(['id', 'expires_at']).where('expires_at', '=', last.expires_at).where('status', '=', 'active').execute();
  const seen = new Set(rows.map((r) => r.id));
  return [...rows, ...ties.filter((t) => !seen.has(t.id))].map((r) => ({ id: r.id, expiresAt: r.expires_at }));
}

/** The active, unexpired listings of one origin with their listing time, a seq range at a time. */
export async function activeListingsOf(db: Db, origin: string, afterSeq: number, limit: number, nowIso: string): Promise<{ id: string; seq: number; listedAt: string }[]> {
  const rows = await db
    .selectFrom('listings')
    .select(['id', 'seq', 'listed_at'])
    .where('origin', '=', origin)
    .where('seq', '>', afterSeq)
    .where('status', '=', 'active')
    .where('expires_at', '>', nowIso)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, seq: Number(r.seq), listedAt: r.listed_at }));
}

export interface WatchStatusCounts {
  events: number;
  pending: number;
  delivered: number;
  deadLetters: number;
  oldestPendingAt: string | null;
  lastDeliveredAt: string | null;
}

export class WatchReader {
  constructor(protected readonly db: Db) {}

  async isWatched(reference: string): Promise<boolean> {
    return (await this.db.selectFrom('watch_references').select('reference').where('reference', '=', reference).executeTakeFirst()) !== undefined;
  }

  async watchedCount(): Promise<number> {
    const row = await this.db
      .selectFrom('watch_references')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Watched references that have no token under `epoch`: enrolled before the node held it, so a
   * listing made under that epoch alone cannot match them until they are sent again.
   */
  async countLackingEpoch(epoch: number): Promise<number> {
    const row = await this.db
      .selectFrom('watch_references as r')
      .select((eb) => eb.fn.countAll().as('n'))
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('watch_tokens as t').select('t.reference').whereRef('t.reference', '=', 'r.reference').where('t.epoch', '=', epoch))))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The tokens kept for a reference (tests and diagnostics; never the identifiers). */
  async tokensOf(reference: string): Promise<WatchToken[]> {
    const rows = await this.db.selectFrom('watch_tokens').select(['type', 'epoch', 'token']).where('reference', '=', reference).execute();
    return rows.map((r) => ({ type: r.type as IdentifierType, epoch: r.epoch, token: new Uint8Array(r.token) }));
  }

  /** Events with an id above `after`, oldest first. */
  async eventsAfter(after: number, limit: number): Promise<EventRow[]> {
    const rows = await this.db.selectFrom('watch_events').selectAll().where('id', '>', after).orderBy('id').limit(limit).execute();
    return rows.map(toEvent);
  }

  /** The oldest event still to deliver: delivery is in id order, so a failing event holds the later ones back. */
  async nextPending(): Promise<EventRow | undefined> {
    const row = await this.db.selectFrom('watch_events').selectAll().where('state', '=', 'pending').orderBy('id').limit(1).executeTakeFirst();
    return row ? toEvent(row) : undefined;
  }

  async deadLetters(limit: number): Promise<EventRow[]> {
    const rows = await this.db.selectFrom('watch_events').selectAll().where('state', '=', 'dead').orderBy('id').limit(limit).execute();
    return rows.map(toEvent);
  }

  async counts(): Promise<WatchStatusCounts> {
    const byState = await this.db
      .selectFrom('watch_events')
      .select(['state', (eb) => eb.fn.countAll().as('n'), (eb) => eb.fn.min('time').as('oldest'), (eb) => eb.fn.max('delivered_at').as('last')])
      .groupBy('state')
      .execute();
    const of = (state: string) => byState.find((r) => r.state === state);
    const n = (state: string) => Number(of(state)?.n ?? 0);
    return {
      events: n('pending') + n('delivered') + n('dead'),
      pending: n('pending'),
      delivered: n('delivered'),
      deadLetters: n('dead'),
      oldestPendingAt: (of('pending')?.oldest as string | null | undefined) ?? null,
      lastDeliveredAt: (of('delivered')?.last as string | null | undefined) ?? null,
    };
  }
}

/** Writes of the watchlist: only inside a transaction, with the events they cause. */
export class WatchWriter extends WatchReader {
  constructor(private readonly trx: Transaction<Database>) {
    super(trx);
  }

  /**
   * Replaces a reference's tokens and records a match event for each active listing the new tokens
   * match that the old ones did not: a re-PUT of the same account does not repeat its events, and
   * this node's own listings of this very account (same `reference`) record none.
   */
  async replace(reference: string, tokens: readonly WatchToken[], now: Date): Promise<number> {
    const nowIso = now.toISOString();
    const before = new Set((await activeMatches(this.trx, reference, nowIso)).map((m) => m.listingId));
    await this.trx.deleteFrom('watch_tokens').where('reference', '=', reference).execute();
    const rows = tokens.map((t) => ({ token: t.token, type: t.type, epoch: t.epoch, reference }));
    for (let i = 0; i < rows.length; i += TOKEN_ROW_CHUNK)
      await this.trx
        .insertInto('watch_tokens')
        .values(rows.slice(i, i + TOKEN_ROW_CHUNK))
        .execute();
    await this.trx
      .insertInto('watch_references')
      .values({ reference, updated_at: nowIso })
      .onConflict((oc) => oc.column('reference').doUpdateSet({ updated_at: nowIso }))
      .execute();
    const matches = await activeMatches(this.trx, reference, nowIso);
    const own = await this.trx.selectFrom('listings').select('id').where('reference', '=', reference).execute();
    for (const row of own) before.add(row.id);
    const fresh = new Map<string, NewEvent>();
    for (const m of matches) {
      if (before.has(m.listingId)) continue;
      const event = fresh.get(m.listingId) ?? { kind: 'match' as const, reference, listingId: m.listingId, origin: m.origin, category: m.category, identifierTypes: [] as string[], matches };
      (event.identifierTypes as string[]).push(m.identifierType);
      fresh.set(m.listingId, event);
    }
    await insertEvents(this.trx, [...fresh.values()], nowIso);
    return fresh.size;
  }

  /** Removes a reference and its tokens; false when it was not watched. Its past events stay. */
  async remove(reference: string): Promise<boolean> {
    await this.trx.deleteFrom('watch_tokens').where('reference', '=', reference).execute();
    const result = await this.trx.deleteFrom('watch_references').where('reference', '=', reference).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

/** Webhook delivery state: single-row updates, each its own durable statement. */
export class EventDeliveryRepository extends WatchReader {
  constructor(db: Kysely<Database>) {
    super(db);
  }

  async markDelivered(id: number, at: string): Promise<void> {
    await this.db.updateTable('watch_events').set({ state: 'delivered', delivered_at: at, last_error: null }).where('id', '=', id).execute();
  }

  /** Records a failed attempt: retried at `nextAttemptAt`, or dead-lettered when `dead`. */
  async markFailed(id: number, attempts: number, nextAttemptAt: string, error: string, dead: boolean): Promise<void> {
    await this.db
      .updateTable('watch_events')
      .set({ state: dead ? 'dead' : 'pending', attempts, next_attempt_at: nextAttemptAt, last_error: error })
      .where('id', '=', id)
      .execute();
  }

  /** Puts dead letters back in the queue with a fresh attempt budget; returns how many. */
  async redrive(at: string): Promise<number> {
    const result = await this.db.updateTable('watch_events').set({ state: 'pending', attempts: 0, next_attempt_at: at }).where('state', '=', 'dead').executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Deletes events recorded before `before`, whatever their delivery state; returns how many. */
  async prune(before: string): Promise<number> {
    const result = await this.db.deleteFrom('watch_events').where('time', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
