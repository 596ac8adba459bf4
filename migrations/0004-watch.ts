/**
 * 0004: the watchlist of existing accounts and the events it produces (docs/EVENTS.md).
 * `watch_tokens` is keyed by token first, so the projection writer finds the watched references of
 * a new or retracted listing by index, never by scanning the watchlist. `watch_events` holds each
 * event with its webhook delivery state; AUTOINCREMENT keeps ids (the events cursor) from ever
 * being reused after the newest events are pruned.
 * Frozen: never edit a migration that has shipped; add a new one.
 * On PostgreSQL its column types come from column-types.ts; on SQLite its DDL is what shipped.
 */
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('watch_references')
    .addColumn('reference', 'text', (c) => c.primaryKey())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('watch_tokens')
    .addColumn('token', t.bytes, (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('epoch', t.int64, (c) => c.notNull())
    .addColumn('reference', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('watch_tokens_pk', ['token', 'type', 'epoch', 'reference'])
    .execute();
  await db.schema.createIndex('watch_tokens_reference').on('watch_tokens').column('reference').execute();
  await db.schema
    .createTable('watch_events')
    // PostgreSQL: an identity column, whose sequence never hands out an id twice either; "by
    // default" so that a copy of the table can carry its ids over.
    .addColumn('id', t.postgres ? 'bigint' : 'integer', (c) => (t.postgres ? c.generatedByDefaultAsIdentity().primaryKey() : c.primaryKey().autoIncrement()))
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
