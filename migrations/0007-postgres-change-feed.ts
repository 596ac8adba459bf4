/**
 * 0007: what PostgreSQL needs to keep a node's in-memory state in step with the database, where
 * SQLite has it built in (src/store/postgres/). Nothing on SQLite: its DDL stays as it was.
 * - `listing_tokens.seq`: the token index's watermark (src/store/postgres/token-index.ts). SQLite's
 *   rowid plays that part there. An identity drawn inside the node's write transactions, which all
 *   hold the writer lock (src/store/postgres/connection.ts), so values commit in their order and a
 *   reader that has seen seq N has seen every row below it.
 * - Notifications on the channels `jointban_tokens` (a token row was written) and
 *   `jointban_api_keys` (a key was created, revoked or removed), sent at commit, so another
 *   process's token index and API-key cache learn of a change without polling. SQLite's
 *   `data_version` plays that part there.
 * Frozen: never edit a migration that has shipped; add a new one.
 */
import { sql, type Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  if (!columnTypes(db).postgres) return;
  await sql`ALTER TABLE listing_tokens ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY`.execute(db);
  await sql`CREATE UNIQUE INDEX listing_tokens_seq ON listing_tokens (seq)`.execute(db);
  await sql`CREATE FUNCTION jointban_notify_tokens() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('jointban_tokens', ''); RETURN NULL; END $$`.execute(db);
  await sql`CREATE TRIGGER listing_tokens_notify AFTER INSERT ON listing_tokens FOR EACH STATEMENT EXECUTE FUNCTION jointban_notify_tokens()`.execute(db);
  await sql`CREATE FUNCTION jointban_notify_api_keys() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('jointban_api_keys', ''); RETURN NULL; END $$`.execute(db);
  // Not on last_used_at: that changes on use, and would empty every process's cache on every request.
  await sql`CREATE TRIGGER api_keys_notify AFTER INSERT OR DELETE OR UPDATE OF revoked_at, scope, key_hash, name ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION jointban_notify_api_keys()`.execute(
    db,
  );
}

export async function down(db: AnyDb): Promise<void> {
  if (!columnTypes(db).postgres) return;
  await sql`DROP TRIGGER api_keys_notify ON api_keys`.execute(db);
  await sql`DROP FUNCTION jointban_notify_api_keys()`.execute(db);
  await sql`DROP TRIGGER listing_tokens_notify ON listing_tokens`.execute(db);
  await sql`DROP FUNCTION jointban_notify_tokens()`.execute(db);
  await sql`DROP INDEX listing_tokens_seq`.execute(db);
  await sql`ALTER TABLE listing_tokens DROP COLUMN seq`.execute(db);
}
