/**
 * 0001: the node's own log, mirrored logs, Merkle nodes, checkpoints, the listings projection,
 * token index and API keys. Frozen: never edit a migration that has shipped; add a new one.
 * On PostgreSQL its column types come from column-types.ts; on SQLite its DDL is what shipped.
 */
import type { Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

// Migrations take Kysely<any> on purpose: they describe the schema at their point in time and must
// not depend on today's table types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('log_entries')
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('time', 'text', (c) => c.notNull())
    .addColumn('bytes', t.bytes, (c) => c.notNull())
    .addColumn('leaf_hash', t.bytes, (c) => c.notNull())
    .addPrimaryKeyConstraint('log_entries_pk', ['origin', 'seq'])
    .execute();

  await db.schema
    .createTable('tree_nodes')
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('level', 'integer', (c) => c.notNull())
    .addColumn('idx', 'bigint', (c) => c.notNull())
    .addColumn('hash', t.bytes, (c) => c.notNull())
    .addPrimaryKeyConstraint('tree_nodes_pk', ['origin', 'level', 'idx'])
    .execute();

  await db.schema
    .createTable('checkpoints')
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('root', t.bytes, (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .addColumn('recorded_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('checkpoints_pk', ['origin', 'size'])
    .execute();

  await db.schema
    .createTable('listings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('listed_at', 'text', (c) => c.notNull())
    .addColumn('banned_at', 'text', (c) => c.notNull())
    .addColumn('ban_until', 'text')
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('evidence_digest', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('retracted_at', 'text')
    .addColumn('retraction_reason', 'text')
    .addColumn('retraction_seq', 'bigint')
    .addColumn('reference', 'text')
    .execute();
  await db.schema.createIndex('listings_origin_seq').on('listings').columns(['origin', 'seq']).unique().execute();
  await db.schema.createIndex('listings_reference').on('listings').column('reference').execute();

  await db.schema
    .createTable('listing_tokens')
    .addColumn('token', t.bytes, (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('epoch', t.int64, (c) => c.notNull())
    .addColumn('listing_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('listing_tokens_pk', ['token', 'type', 'epoch', 'listing_id'])
    .execute();
  await db.schema.createIndex('listing_tokens_listing').on('listing_tokens').column('listing_id').execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key_hash', t.bytes, (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addColumn('last_used_at', 'text')
    .execute();

  await db.schema
    .createTable('node_meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  for (const table of ['node_meta', 'api_keys', 'listing_tokens', 'listings', 'checkpoints', 'tree_nodes', 'log_entries']) {
    await db.schema.dropTable(table).execute();
  }
}
