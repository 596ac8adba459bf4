/**
 * 0002: federation state: the rosters this node accepted, and the misbehaviour it detected with
 * its evidence. Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('rosters')
    .addColumn('version', 'bigint', (c) => c.primaryKey())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('accepted_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('misbehaviour')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('peer', 'text')
    .addColumn('detected_at', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('evidence', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('misbehaviour_origin').on('misbehaviour').columns(['origin', 'detected_at']).execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('misbehaviour').execute();
  await db.schema.dropTable('rosters').execute();
}
