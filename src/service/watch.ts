/**
 * The watchlist of a platform's existing accounts and the events about them (docs/EVENTS.md):
 * PUT and DELETE of watched references, the events feed, and the decision each event carries,
 * evaluated with the joint-penalty policy over the reference's active matches at the event's time.
 * Identifiers are tokenised by the same Tokenizer as listings and checks; only tokens are kept.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../errors.js';
import type { IdentifierType } from '../identifiers/types.js';
import { evaluatePolicy, type Decision, type Policy, type PolicyMatch } from '../policy/index.js';
import { EventDeliveryRepository, WatchReader, WatchWriter, type EventKind, type EventRow, type LiftReason, type WatchMatch } from '../store/watch-repository.js';
import type { Database } from '../store/tables.js';
import type { CheckRecorder } from './check-counter.js';
import type { IdentifierInput, Tokenizer } from './tokenizer.js';

export { LIFT_REASONS, type LiftReason } from '../store/watch-repository.js';

/** The most references one PUT /v1/watch may carry (also bounded by http.maxBodyBytes). */
export const MAX_WATCH_BATCH = 1000;
/** The most events one GET /v1/events returns. */
export const MAX_EVENTS_PAGE = 1000;
/**
 * References tokenised, and written in one transaction, before the request yields to the event
 * loop: a full request (1,000 references of 16 identifiers) takes hundreds of milliseconds of
 * synchronous work, which in one piece would hold up `/healthz` and checks (a check waits for an
 * open transaction on the node's connection) for all of it. A chunk is a few milliseconds.
 */
export const WATCH_CHUNK = 50;

/** Lets timers and I/O (another request, a health probe) run before the next chunk. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface WatchInput {
  reference: string;
  identifiers: IdentifierInput[];
}

export interface EventView {
  /** The cursor: decimal digits, increasing; `GET /v1/events?after=<id>` continues after it. */
  id: string;
  kind: EventKind;
  reference: string;
  listingId: string;
  origin: string;
  category: string;
  identifierTypes: IdentifierType[];
  time: string;
  /** A lift's cause: retracted, expired, member_suspended or member_removed. Absent on a match. */
  reason?: LiftReason;
  /** What a sign-up with these identifiers would get now: the penalty to apply to the account. */
  registration: Decision;
  /** Whether the account may keep (or be granted) profit privileges, and until when not. */
  monetization: Decision;
  /** The reference's active matches the decisions were evaluated over. */
  matches: { listingId: string; origin: string; category: string; identifierType: IdentifierType; bannedAt: string; banUntil: string | null; expiresAt: string }[];
}

export interface EventPage {
  events: EventView[];
  /** Pass as `after` for the next page; the same cursor again when there was nothing new. */
  next: string;
}

/** The events part of the node status (GET /v1/federation/status → `events`). */
export interface EventsStatus {
  watchedReferences: number;
  /** The newest token epoch this node holds: what listings made after a rotation are tokenised under. */
  newestEpoch: number;
  /**
   * Watched references with no token under `newestEpoch`: a listing made under that epoch alone
   * does not match them. Above 0 after an epoch rotation: send them again with PUT /v1/watch
   * (docs/OPERATIONS.md, "Epoch secrets").
   */
  watchedLackingNewestEpoch: number;
  events: number;
  pending: number;
  delivered: number;
  deadLetters: number;
  /** Seconds since the oldest undelivered event was recorded (0 when none): the delivery lag. */
  lagSeconds: number;
  oldestPendingAt: string | null;
  lastDeliveredAt: string | null;
  /** The webhook's origin (scheme, host, port) when one is configured; never its path or secret. */
  webhook: string | null;
  /** The oldest dead letters (at most 100): redrive with POST /v1/events/dead-letters/redrive. */
  deadLetterList: { id: string; kind: EventKind; reference: string; listingId: string; time: string; attempts: number; lastError: string | null }[];
}

export interface WatchServiceDeps {
  db: Kysely<Database>;
  tokenizer: Tokenizer;
  policy: Policy;
  now: () => Date;
  /** The roster's word on a listing, as for checks: a removed member's listings stop counting. */
  listingInForce?: (origin: string, listedAt: string) => boolean;
  /** The configured webhook URL, shown in the status as its origin only. */
  webhookUrl?: string | undefined;
  /** Counts each enrolment and the identifiers it tested, for the audit report (kind `watch`). */
  counter?: CheckRecorder | undefined;
}

const CURSOR = /^\d{1,15}$/;

/** Parses an events cursor: absent is the start; anything but decimal digits is bad input. */
export function parseCursor(after: string | undefined): number {
  if (after === undefined || after === '') return 0;
  if (!CURSOR.test(after)) throw new AppError('invalid_input', 'after: must be a cursor returned by this node (decimal digits)');
  return Number(after);
}

export class WatchService {
  constructor(private readonly deps: WatchServiceDeps) {}

  /**
   * Watches (or re-watches) references. Every item is validated and tokenised before anything is
   * written, so bad input writes nothing, and an error names the item (`watch[3].identifiers[0]
   * (phone): …`). The writes then go in transactions of WATCH_CHUNK references, yielding between
   * them: each reference is replaced atomically, and a request that fails part-way (the database
   * refused a write) leaves the earlier chunks watched; PUT replaces, so sending it again is safe.
   * `keyId`: the API key that asked, for the audit counts.
   */
  async put(items: readonly WatchInput[], caller: { keyId?: string | undefined } = {}): Promise<{ watched: number; events: number }> {
    if (items.length === 0) throw new AppError('invalid_input', 'watch: give at least one reference');
    if (items.length > MAX_WATCH_BATCH) throw new AppError('invalid_input', `watch: at most ${MAX_WATCH_BATCH} references per request`);
    const firstIndex = new Map<string, number>();
    items.forEach((item, i) => {
      const earlier = firstIndex.get(item.reference);
      if (earlier !== undefined) throw new AppError('invalid_input', `watch[${i}].reference: same as watch[${earlier}]`);
      firstIndex.set(item.reference, i);
    });
    const prepared: { reference: string; tokens: ReturnType<Tokenizer['tokensFor']> }[] = [];
    for (let i = 0; i < items.length; i++) {
      if (i > 0 && i % WATCH_CHUNK === 0) await yieldToEventLoop();
      const item = items[i]!;
      try {
        prepared.push({ reference: item.reference, tokens: this.deps.tokenizer.tokensFor(item.identifiers) });
      } catch (err) {
        if (err instanceof AppError) throw new AppError(err.code, `watch[${i}].${err.message}`);
        throw err;
      }
    }
    const now = this.deps.now();
    let events = 0;
    for (let start = 0; start < prepared.length; start += WATCH_CHUNK) {
      if (start > 0) await yieldToEventLoop();
      const chunk = prepared.slice(start, start + WATCH_CHUNK);
      events += await this.deps.db.transaction().execute(async (trx) => {
        const writer = new WatchWriter(trx);
        let recorded = 0;
        for (const p of chunk) recorded += await writer.replace(p.reference, p.tokens, now);
        return recorded;
      });
    }
    const identifiers = items.reduce((n, item) => n + item.identifiers.length, 0);
    this.deps.counter?.record('watch', caller.keyId, identifiers, events);
    return { watched: prepared.length, events };
  }

  /** Stops watching a reference; idempotent (false when it was not watched). */
  remove(reference: string): Promise<boolean> {
    return this.deps.db.transaction().execute((trx) => new WatchWriter(trx).remove(reference));
  }

  async events(after: string | undefined, limit: number): Promise<EventPage> {
    const from = parseCursor(after);
    const rows = await new WatchReader(this.deps.db).eventsAfter(from, Math.min(Math.max(1, limit), MAX_EVENTS_PAGE));
    return { events: rows.map((r) => this.view(r)), next: String(rows.at(-1)?.id ?? from) };
  }

  /** An event as the API and the webhook give it: the stored facts plus both decisions. */
  view(row: EventRow): EventView {
    const at = new Date(row.time);
    const counted = row.matches.filter((m) => this.deps.listingInForce?.(m.origin, m.listedAt) ?? true);
    const policyMatches: PolicyMatch[] = counted.map((m) => toPolicyMatch(m));
    return {
      id: String(row.id),
      kind: row.kind,
      reference: row.reference,
      listingId: row.listingId,
      origin: row.origin,
      category: row.category,
      identifierTypes: row.identifierTypes,
      time: row.time,
      ...(row.reason === undefined ? {} : { reason: row.reason }),
      registration: evaluatePolicy(this.deps.policy, 'registration', policyMatches, at),
      monetization: evaluatePolicy(this.deps.policy, 'monetization', policyMatches, at),
      matches: counted.map((m) => ({
        listingId: m.listingId,
        origin: m.origin,
        category: m.category,
        identifierType: m.identifierType,
        bannedAt: m.bannedAt,
        banUntil: m.banUntil,
        expiresAt: m.expiresAt,
      })),
    };
  }

  async status(): Promise<EventsStatus> {
    const reader = new WatchReader(this.deps.db);
    const counts = await reader.counts();
    const dead = await reader.deadLetters(100);
    const oldest = counts.oldestPendingAt === null ? undefined : Date.parse(counts.oldestPendingAt);
    const newestEpoch = this.deps.tokenizer.newestEpoch;
    return {
      watchedReferences: await reader.watchedCount(),
      newestEpoch,
      watchedLackingNewestEpoch: await reader.countLackingEpoch(newestEpoch),
      ...counts,
      lagSeconds: oldest === undefined ? 0 : Math.max(0, (this.deps.now().getTime() - oldest) / 1000),
      webhook: this.deps.webhookUrl === undefined ? null : new URL(this.deps.webhookUrl).origin,
      deadLetterList: dead.map((e) => ({ id: String(e.id), kind: e.kind, reference: e.reference, listingId: e.listingId, time: e.time, attempts: e.attempts, lastError: e.lastError })),
    };
  }

  /** Puts every dead letter back in the delivery queue. */
  redrive(): Promise<number> {
    return new EventDeliveryRepository(this.deps.db).redrive(this.deps.now().toISOString());
  }
}

function toPolicyMatch(m: WatchMatch): PolicyMatch {
  return {
    listingId: m.listingId,
    origin: m.origin,
    category: m.category,
    severity: 'severe',
    identifierType: m.identifierType,
    status: 'active',
    bannedAt: m.bannedAt,
    banUntil: m.banUntil,
    expiresAt: m.expiresAt,
  };
}
