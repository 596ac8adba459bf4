/**
 * 0005: lift events for more than retractions (docs/EVENTS.md, "Events"). `watch_events.reason`
 * says why a lift was recorded (retracted, expired, member_suspended, member_removed); rows of
 * 0004 are all retractions, which is what a null reason reads as. `listings_expires_at` lets the
 * expiry sweep find the listings that expired since its last run by index, not by scanning every
 * listing each minute.
 * Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable('watch_events').addColumn('reason', 'text').execute();
  await db.schema.createIndex('listings_expires_at').on('listings').column('expires_at').execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropIndex('listings_expires_at').execute();
  await db.schema.alterTable('watch_events').dropColumn('reason').execute();
}
