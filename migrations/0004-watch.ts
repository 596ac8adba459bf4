/**
 * 0004: the watchlist of existing accounts and the events it produces (docs/EVENTS.md).
 * `watch_tokens` is keyed by token first, so the projection writer finds the watched references of
 * a new or retracted listing by index, never by scanning the watchlist. `watch_events` holds each
 * event with its webhook delivery state; AUTOINCREMENT keeps ids (the events cursor) from ever
 * being reused after the newest events are pruned.
 * Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('watch_references')
    .addColumn('reference', 'text', (c) => c.primaryKey())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('watch_tokens')
    .addColumn('token', 'blob', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('epoch', 'integer', (c) => c.notNull())
    .addColumn('reference', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('watch_tokens_pk', ['token', 'type', 'epoch', 'reference'])
    .execute();
  await db.schema.createIndex('watch_tokens_reference').on('watch_tokens').column('reference').execute();
  await db.schema
    .createTable('watch_events')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('reference', 'text', (c) => c.notNull())
    .addColumn('listing_id', 'text', (c) => c.notNull())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('identifier_types', 'text', (c) => c.notNull())
    .addColumn('matches', 'text', (c) => c.notNull())
    .addColumn('time', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'text')
    .addColumn('last_error', 'text')
    .execute();
  await db.schema.createIndex('watch_events_state').on('watch_events').columns(['state', 'id']).execute();
  await db.schema.createIndex('watch_events_time').on('watch_events').column('time').execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('watch_events').execute();
  await db.schema.dropTable('watch_tokens').execute();
  await db.schema.dropTable('watch_references').execute();
}
