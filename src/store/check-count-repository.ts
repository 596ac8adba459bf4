/**
 * The counts of identifier tests this node served (table `check_counts`: checks per purpose, and
 * watch enrolments as purpose `watch`): added to by the check counter's flush, read by the audit
 * report. Adding is an upsert that sums, so two flushes of the same day,
 * purpose and key (or two processes over one database) never overwrite each other.
 */
import type { Kysely } from 'kysely';
import type { Database } from './tables.js';

export interface CheckCountDelta {
  day: string;
  purpose: string;
  keyId: string;
  /** Requests. */
  served: number;
  /** Identifiers (or tokens) the requests tested. */
  identifiers: number;
  hits: number;
}

export interface KeyDayCount {
  keyId: string;
  day: string;
  /** Identifiers tested through every route (checks and watch enrolments). */
  identifiers: number;
}

export interface PurposeCount {
  purpose: string;
  served: number;
  identifiers: number;
  hits: number;
}

export class CheckCountRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Adds the deltas in one transaction: all of them or none. */
  async add(deltas: readonly CheckCountDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const d of deltas) {
        await trx
          .insertInto('check_counts')
          .values({ day: d.day, purpose: d.purpose, key_id: d.keyId, served: d.served, identifiers: d.identifiers, hits: d.hits })
          .onConflict((oc) =>
            oc.columns(['day', 'purpose', 'key_id']).doUpdateSet((eb) => ({
              served: eb('check_counts.served', '+', eb.ref('excluded.served')),
              identifiers: eb('check_counts.identifiers', '+', eb.ref('excluded.identifiers')),
              hits: eb('check_counts.hits', '+', eb.ref('excluded.hits')),
            })),
          )
          .execute();
      }
    });
  }

  /** Totals per purpose over the days firstDay … lastDay (inclusive, `YYYY-MM-DD`). */
  async perPurpose(firstDay: string, lastDay: string): Promise<PurposeCount[]> {
    const rows = await this.db
      .selectFrom('check_counts')
      .select((eb) => ['purpose', eb.fn.sum<number>('served').as('served'), eb.fn.sum<number>('identifiers').as('identifiers'), eb.fn.sum<number>('hits').as('hits')])
      .where('day', '>=', firstDay)
      .where('day', '<=', lastDay)
      .groupBy('purpose')
      .orderBy('purpose')
      .execute();
    return rows.map((r) => ({ purpose: r.purpose, served: Number(r.served), identifiers: Number(r.identifiers), hits: Number(r.hits) }));
  }

  /** Identifiers tested per API key and day (all purposes and watch) over firstDay … lastDay, for the volume-jump rule. */
  async perKeyDay(firstDay: string, lastDay: string): Promise<KeyDayCount[]> {
    const rows = await this.db
      .selectFrom('check_counts')
      .select((eb) => ['key_id', 'day', eb.fn.sum<number>('identifiers').as('identifiers')])
      .where('day', '>=', firstDay)
      .where('day', '<=', lastDay)
      .groupBy(['key_id', 'day'])
      .orderBy('day')
      .orderBy('key_id')
      .execute();
    return rows.map((r) => ({ keyId: r.key_id, day: r.day, identifiers: Number(r.identifiers) }));
  }
}
