/**
 * 0003: audit statistics. `check_counts` holds the checks this node served, per UTC day, purpose
 * and API key (flushed from memory every few seconds, so the check path never writes); two
 * indexes let the report's per-window GROUP BY queries read by time instead of scanning.
 * Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('check_counts')
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    // '' for checks made without an API key (the `jointban check` command, in-process calls).
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('served', 'bigint', (c) => c.notNull())
    .addColumn('hits', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('check_counts_pk', ['day', 'purpose', 'key_id'])
    .execute();
  await db.schema.createIndex('listings_listed_at').on('listings').column('listed_at').execute();
  await db.schema.createIndex('log_entries_kind_time').on('log_entries').columns(['kind', 'time']).execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropIndex('log_entries_kind_time').execute();
  await db.schema.dropIndex('listings_listed_at').execute();
  await db.schema.dropTable('check_counts').execute();
}
