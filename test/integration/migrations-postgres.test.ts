/**
 * The migrations on a real PostgreSQL server (the run's throwaway cluster, test/global-setup.ts):
 * up → down → up on a fresh database, each migration's down undoing exactly its up, and the column
 * types PostgreSQL needs (bytea, 64-bit epochs, an identity id that is never reused). The SQLite
 * side, and its byte-identical DDL, is migrations.test.ts. Skipped with one line where PostgreSQL
 * is not installed (test/helpers/optional-suite.ts).
 */
import { Migrator, sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrationProvider } from '../../migrations/index.js';
import type { Database } from '../../src/store/tables.js';
import { postgresKysely } from '../helpers/postgres-cluster.js';
import { createTestDatabase, postgresCanRun } from '../helpers/postgres.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function freshDatabase(options: { empty?: boolean } = {}): Promise<Kysely<Database>> {
  const database = await createTestDatabase(options);
  cleanup.push(() => database.drop());
  const db = postgresKysely(database.url);
  cleanup.push(() => db.destroy());
  return db;
}

async function registered(): Promise<string[]> {
  return Object.keys(await migrationProvider.getMigrations());
}

/** Every column (with its type, nullability, identity) and index: equal snapshots, same schema. */
async function snapshot(db: Kysely<Database>): Promise<string[]> {
  const columns = await sql<{ line: string }>`
    SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || is_identity AS line
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'
    ORDER BY table_name, ordinal_position`.execute(db);
  const indexes = await sql<{ line: string }>`
    SELECT indexdef AS line FROM pg_indexes
    WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_%'
    ORDER BY indexname`.execute(db);
  return [...columns.rows, ...indexes.rows].map((r) => r.line);
}

async function step(migrator: Migrator, direction: 'up' | 'down'): Promise<string[]> {
  const { error, results } = direction === 'up' ? await migrator.migrateUp() : await migrator.migrateDown();
  expect(error).toBeUndefined();
  return (results ?? []).map((r) => r.migrationName);
}

describe.runIf(postgresCanRun('PostgreSQL migrations tests'))('the migrations on PostgreSQL', () => {
  it('up applies every registered migration, down undoes them all, up again gives the same schema', async () => {
    const db = await freshDatabase({ empty: true });
    const migrator = new Migrator({ db, provider: migrationProvider });
    const names = await registered();
    expect(await snapshot(db)).toEqual([]);

    const { error, results } = await migrator.migrateToLatest();
    expect(error).toBeUndefined();
    expect(results?.map((r) => r.migrationName)).toEqual(names);
    const full = await snapshot(db);
    expect(full.length).toBeGreaterThan(0);

    const undone: string[] = [];
    for (let applied = await step(migrator, 'down'); applied.length > 0; applied = await step(migrator, 'down')) undone.push(...applied);
    expect(undone).toEqual([...names].reverse());
    expect(await snapshot(db)).toEqual([]);

    expect((await migrator.migrateToLatest()).results?.map((r) => r.migrationName)).toEqual(names);
    expect(await snapshot(db)).toEqual(full);
  });

  it("each migration's down restores the schema from before its up", async () => {
    const db = await freshDatabase({ empty: true });
    const migrator = new Migrator({ db, provider: migrationProvider });
    const before: string[][] = [];
    for (const name of await registered()) {
      before.push(await snapshot(db));
      expect(await step(migrator, 'up')).toEqual([name]);
      expect(await snapshot(db)).not.toEqual(before.at(-1));
    }
    while (before.length > 0) {
      await step(migrator, 'down');
      expect(await snapshot(db)).toEqual(before.pop());
    }
  });

  it('a test database is a copy of the migrated template', async () => {
    const db = await freshDatabase();
    const migrations = await new Migrator({ db, provider: migrationProvider }).getMigrations();
    expect(migrations.map((m) => m.name)).toEqual(await registered());
    expect(migrations.every((m) => m.executedAt instanceof Date)).toBe(true);
  });

  it('stores bytes as bytea and epochs up to 2^32 − 1, and never reuses a watch event id', async () => {
    const db = await freshDatabase();
    const columns = await snapshot(db);
    expect(columns).toContain('log_entries.bytes bytea NO NO');
    expect(columns).toContain('listing_tokens.epoch bigint NO NO');
    expect(columns).toContain('watch_events.id bigint NO YES');
    expect(columns.filter((c) => / blob /.test(c))).toEqual([]);

    const token = Uint8Array.from([0, 1, 2, 254, 255]);
    await db.insertInto('listing_tokens').values({ token, type: 'phone', epoch: 0xffff_ffff, listing_id: 'alpha:1' }).execute();
    const row = await db.selectFrom('listing_tokens').selectAll().executeTakeFirstOrThrow();
    expect(Uint8Array.from(row.token)).toEqual(token);
    // pg returns int8 as a string unless told otherwise: the node's adapter will choose (issue 14).
    expect(String(row.epoch)).toBe('4294967295');

    const event = {
      kind: 'match' as const,
      reference: 'r',
      listing_id: 'alpha:1',
      origin: 'alpha',
      category: 'fraud',
      identifier_types: '[]',
      matches: '[]',
      time: 't',
      state: 'pending' as const,
      attempts: 0,
      next_attempt_at: 't',
    };
    const insert = async () => String((await db.insertInto('watch_events').values(event).returning('id').executeTakeFirstOrThrow()).id);
    expect([await insert(), await insert()]).toEqual(['1', '2']);
    await db.deleteFrom('watch_events').where('id', '=', 2).execute();
    expect(await insert()).toBe('3');
  });
});
