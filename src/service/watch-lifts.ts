/**
 * The events a watched account gets when listings stop (or start) counting without anything
 * happening to the listing itself (docs/EVENTS.md, "Events"): a listing reaching its `expiresAt`,
 * and the roster suspending, removing or reinstating the listing's origin. Retractions and new
 * listings are recorded by the projection writer itself (store/watch-repository.ts); these two are
 * found by a sweep that runs at start, every `events.sweepIntervalMs`, and at once when a new
 * roster is adopted.
 *
 * Each sweep keeps its progress in `node_meta` and advances it in the transaction that records
 * the events, so a crash neither loses nor repeats them: the expiry sweep the expiry time it has
 * covered, the roster sweep the standings (membership and suspension) it last acted on. A node
 * that sweeps for the first time records where it stands and no events: what expired or changed
 * before that is not announced.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import { standingsOf, standingStatusAt, type MemberStanding, type Roster } from '../roster/index.js';
import { NodeMetaRepository } from '../store/node-meta-repository.js';
import type { Database } from '../store/tables.js';
import { activeListingsOf, listingsExpiredBetween, recordWatchEvents, watchesAnything, type LiftReason } from '../store/watch-repository.js';

/** `node_meta` keys: the expiry time covered so far; the member standings last acted on (JSON). */
export const EXPIRY_SWEPT_UNTIL = 'watch.expiry_swept_until';
export const ROSTER_STANDINGS = 'watch.roster_standings';

/** Listings per transaction: bounds the time a sweep holds SQLite's write lock. */
const BATCH = 2000;

export interface WatchLiftsDeps {
  db: Kysely<Database>;
  /** This node's member id: its own listings count whatever the roster says. */
  self: string;
  roster: () => Roster | undefined;
  sweepIntervalMs: number;
  now: () => Date;
  logger: Logger;
}

export interface SweepOutcome {
  /** Lift events recorded for listings that reached their expiry. */
  expired: number;
  /** Lift and match events recorded for listings a roster change stopped or started counting. */
  roster: number;
}

export class WatchLifts {
  private timer: NodeJS.Timeout | undefined;
  /** Sweeps run one after another, never two at once. */
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = true;

  constructor(private readonly deps: WatchLiftsDeps) {}

  start(): void {
    this.stopped = false;
    this.request();
    this.timer = setInterval(() => this.request(), this.deps.sweepIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.queue;
  }

  /** A new roster was adopted: sweep now rather than at the next interval. */
  rosterChanged(): void {
    if (!this.stopped) this.request();
  }

  /** Runs a sweep after any running one; errors are logged, the next sweep retries. */
  private request(): void {
    this.queue = this.queue.then(() =>
      this.sweep().catch((err: unknown) => {
        if (!this.stopped) this.deps.logger.error({ err: (err as Error).message }, 'watch lift sweep failed');
      }),
    );
  }

  /** One sweep of both kinds (tests call it directly). */
  async sweep(): Promise<SweepOutcome> {
    const expired = await this.sweepExpiries();
    const roster = await this.sweepRoster();
    if (expired + roster > 0) this.deps.logger.info({ expired, roster }, 'watch events recorded by the sweep');
    return { expired, roster };
  }

  private async sweepExpiries(): Promise<number> {
    const now = this.deps.now();
    const nowIso = now.toISOString();
    let recorded = 0;
    for (;;) {
      const { events, more } = await this.deps.db.transaction().execute(async (trx) => {
        const meta = new NodeMetaRepository(trx);
        const after = await meta.get(EXPIRY_SWEPT_UNTIL);
        if (after === undefined || after >= nowIso) {
          if (after === undefined) await meta.put(EXPIRY_SWEPT_UNTIL, nowIso);
          return { events: 0, more: false };
        }
        const expired = await listingsExpiredBetween(trx, after, nowIso, BATCH);
        const full = expired.length >= BATCH;
        const events = (await watchesAnything(trx))
          ? await recordWatchEvents(
              trx,
              'lift',
              expired.map((l) => l.id),
              now,
              'expired',
            )
          : 0;
        // A full batch ends at its last expiry time (every listing of that time included); otherwise all is covered.
        await meta.put(EXPIRY_SWEPT_UNTIL, full ? expired.at(-1)!.expiresAt : nowIso);
        return { events, more: full };
      });
      recorded += events;
      if (!more || this.stopped) return recorded;
    }
  }

  private async sweepRoster(): Promise<number> {
    const roster = this.deps.roster();
    if (roster === undefined) return 0;
    const current = standingsOf(roster);
    const now = this.deps.now();
    return this.deps.db.transaction().execute(async (trx) => {
      const meta = new NodeMetaRepository(trx);
      const stored = await meta.get(ROSTER_STANDINGS);
      const serialised = JSON.stringify(current);
      if (stored === serialised) return 0;
      let recorded = 0;
      if (stored !== undefined && (await watchesAnything(trx))) {
        const before = new Map((JSON.parse(stored) as MemberStanding[]).map((s) => [s.id, s]));
        const after = new Map(current.map((s) => [s.id, s]));
        for (const origin of new Set([...before.keys(), ...after.keys()])) {
          if (origin === this.deps.self) continue;
          const was = before.get(origin);
          const is = after.get(origin);
          if (was?.suspendedAt === is?.suspendedAt && (was === undefined) === (is === undefined)) continue;
          recorded += await this.recordStandingChange(trx, origin, was, is, now);
        }
      }
      await meta.put(ROSTER_STANDINGS, serialised);
      return recorded;
    });
  }

  /** Events for the listings of one origin whose counting changed between two standings. */
  private async recordStandingChange(trx: Transaction<Database>, origin: string, was: MemberStanding | undefined, is: MemberStanding | undefined, now: Date): Promise<number> {
    const reason: LiftReason = is === undefined ? 'member_removed' : 'member_suspended';
    const counts = (standing: MemberStanding | undefined, listedAt: string) => standingStatusAt(standing, listedAt) === 'active';
    let recorded = 0;
    let afterSeq = 0;
    for (;;) {
      const listings = await activeListingsOf(trx, origin, afterSeq, BATCH, now.toISOString());
      const stopped: string[] = [];
      const started: string[] = [];
      for (const l of listings) {
        const before = counts(was, l.listedAt);
        const after = counts(is, l.listedAt);
        if (before && !after) stopped.push(l.id);
        else if (!before && after) started.push(l.id);
      }
      recorded += await recordWatchEvents(trx, 'lift', stopped, now, reason);
      recorded += await recordWatchEvents(trx, 'match', started, now);
      if (listings.length < BATCH) return recorded;
      afterSeq = listings.at(-1)!.seq;
    }
  }
}
