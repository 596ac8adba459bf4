/**
 * The audit report's queries over the listings projection, the log and the misbehaviour records.
 * Each is one aggregate (GROUP BY) query over a time window `[from, to)`, in dialect-neutral
 * Kysely: times are `toISOString()` text, so a window is a text range and a UTC day is
 * `substr(time, 1, 10)` on SQLite and PostgreSQL alike. Only the retraction delays are rows, one
 * per retracted listing of the window, because a median needs the values (SQL has no portable
 * median).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './tables.js';

export interface Window {
  from: string;
  to: string;
}

export interface OriginCount {
  origin: string;
  n: number;
}

export interface OriginKeyCount {
  origin: string;
  key: string;
  n: number;
}

export interface RetractionDelay {
  origin: string;
  listedAt: string;
  retractedAt: string;
}

const listedDay = sql<string>`substr(${sql.ref('listed_at')}, 1, 10)`;
const entryDay = sql<string>`substr(${sql.ref('time')}, 1, 10)`;

function keyed(rows: { origin: string; key: string; n: number | string | bigint }[]): OriginKeyCount[] {
  return rows.map((r) => ({ origin: r.origin, key: r.key, n: Number(r.n) }));
}

function counted(rows: { origin: string; n: number | string | bigint }[]): OriginCount[] {
  return rows.map((r) => ({ origin: r.origin, n: Number(r.n) }));
}

export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  private listedIn(w: Window) {
    return this.db.selectFrom('listings').where('listed_at', '>=', w.from).where('listed_at', '<', w.to);
  }

  /** Listings made in the window, per origin and category. */
  async listingsByCategory(w: Window): Promise<OriginKeyCount[]> {
    const rows = await this.listedIn(w)
      .select((eb) => ['origin', 'category as key', eb.fn.countAll<number>().as('n')])
      .groupBy(['origin', 'category'])
      .execute();
    return keyed(rows);
  }

  /** Listings made in the window, per origin and identifier type: a listing counts once per type it carries. */
  async listingsByIdentifierType(w: Window): Promise<OriginKeyCount[]> {
    const rows = await this.db
      .selectFrom('listings as l')
      .innerJoin('listing_tokens as t', 't.listing_id', 'l.id')
      .where('l.listed_at', '>=', w.from)
      .where('l.listed_at', '<', w.to)
      .select((eb) => ['l.origin as origin', 't.type as key', eb.fn.count<number>('l.id').distinct().as('n')])
      .groupBy(['l.origin', 't.type'])
      .execute();
    return keyed(rows);
  }

  /** Listings made in the window without an evidence digest, per origin. */
  async withoutEvidenceDigest(w: Window): Promise<OriginCount[]> {
    const rows = await this.listedIn(w)
      .where('evidence_digest', 'is', null)
      .select((eb) => ['origin', eb.fn.countAll<number>().as('n')])
      .groupBy('origin')
      .execute();
    return counted(rows);
  }

  /** Listings made in the window and retracted before its end, per origin. */
  async retractedOfListed(w: Window): Promise<OriginCount[]> {
    const rows = await this.listedIn(w)
      .where('status', '=', 'retracted')
      .where('retracted_at', '<', w.to)
      // A ban listed again under a new token epoch was not withdrawn: it is still listed.
      .where('retraction_reason', '!=', 'relisted')
      .select((eb) => ['origin', eb.fn.countAll<number>().as('n')])
      .groupBy('origin')
      .execute();
    return counted(rows);
  }

  /** Listing and retraction times of the listings counted by `retractedOfListed`. */
  async retractionDelays(w: Window): Promise<RetractionDelay[]> {
    const rows = await this.listedIn(w)
      .where('status', '=', 'retracted')
      .where('retracted_at', '<', w.to)
      .where('retraction_reason', '!=', 'relisted')
      .select(['origin', 'listed_at', 'retracted_at'])
      .execute();
    return rows.map((r) => ({ origin: r.origin, listedAt: r.listed_at, retractedAt: r.retracted_at ?? r.listed_at }));
  }

  /**
   * Listings made in the window that share a token (same type, epoch and token) with a listing of
   * another origin, listed at any time, per origin.
   */
  async corroborated(w: Window): Promise<OriginCount[]> {
    const rows = await this.db
      .selectFrom('listings as l')
      .innerJoin('listing_tokens as t', 't.listing_id', 'l.id')
      .where('l.listed_at', '>=', w.from)
      .where('l.listed_at', '<', w.to)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('listing_tokens as t2')
            .innerJoin('listings as l2', 'l2.id', 't2.listing_id')
            .select(sql<number>`1`.as('one'))
            .whereRef('t2.token', '=', 't.token')
            .whereRef('t2.type', '=', 't.type')
            .whereRef('t2.epoch', '=', 't.epoch')
            .whereRef('l2.origin', '<>', 'l.origin'),
        ),
      )
      .select((eb) => ['l.origin as origin', eb.fn.count<number>('l.id').distinct().as('n')])
      .groupBy('l.origin')
      .execute();
    return counted(rows);
  }

  /** Listings per origin and UTC day (`key`), for listings made in the window. */
  async listingsPerDay(w: Window): Promise<OriginKeyCount[]> {
    const rows = await this.listedIn(w)
      .select((eb) => ['origin', listedDay.as('key'), eb.fn.countAll<number>().as('n')])
      .groupBy(['origin', listedDay])
      .execute();
    return keyed(rows);
  }

  /** Retraction entries per origin and UTC day (`key`), by entry time in the window. */
  async retractionsPerDay(w: Window): Promise<OriginKeyCount[]> {
    const rows = await this.db
      .selectFrom('log_entries')
      .where('kind', '=', 'retraction')
      .where('time', '>=', w.from)
      .where('time', '<', w.to)
      .select((eb) => ['origin', entryDay.as('key'), eb.fn.countAll<number>().as('n')])
      .groupBy(['origin', entryDay])
      .execute();
    return keyed(rows);
  }

  /** Misbehaviour recorded in the window, per origin and kind (`key`). */
  async misbehaviour(w: Window): Promise<OriginKeyCount[]> {
    const rows = await this.db
      .selectFrom('misbehaviour')
      .where('detected_at', '>=', w.from)
      .where('detected_at', '<', w.to)
      .select((eb) => ['origin', 'kind as key', eb.fn.countAll<number>().as('n')])
      .groupBy(['origin', 'kind'])
      .execute();
    return keyed(rows);
  }
}
