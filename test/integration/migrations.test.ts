/**
 * Migrations on real SQLite files: up → down → up on a fresh database, each migration's down
 * undoing exactly its up, and a node that works on a database migrated all the way down and up.
 * Written against the registry, so a new migration is covered as soon as it is listed.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Migrator } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrationProvider, POSTGRES_ONLY_MIGRATIONS } from '../../migrations/index.js';
import { loadConfig } from '../../src/config/load.js';
import { initDataDir } from '../../src/init.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import { listMigrations, migrateDown, migrateToLatest, openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { json, listingBody, phone, type CheckBody } from '../helpers/fixtures.js';
import { TEST_EPOCH_SECRET, tempDir } from '../helpers/test-node.js';

/** Tables of 0001, which the node's own log and checks need; later migrations add more. */
const CORE_TABLES = ['api_keys', 'checkpoints', 'listing_tokens', 'listings', 'log_entries', 'node_meta', 'tree_nodes'];

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function dir(): string {
  const d = tempDir();
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function open(file: string): Promise<DatabaseHandle> {
  const handle = await openDatabase({ driver: 'sqlite', file, migrate: false });
  cleanup.push(() => handle.close());
  return handle;
}

async function registered(): Promise<string[]> {
  return Object.keys(await migrationProvider.getMigrations());
}

/** The tables the migrations own (Kysely's own bookkeeping tables left out). */
function tables(handle: DatabaseHandle): string[] {
  return handle.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%' ORDER BY name").pluck().all() as string[];
}

/** Every table and index with its SQL: two equal snapshots are the same schema. */
function snapshot(handle: DatabaseHandle): string[] {
  const rows = handle.sqlite.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%' ORDER BY type, name").all() as {
    type: string;
    name: string;
    sql: string | null;
  }[];
  return rows.map((r) => `${r.type} ${r.name}: ${r.sql ?? ''}`);
}

async function downToEmpty(handle: DatabaseHandle): Promise<string[]> {
  const undone: string[] = [];
  for (;;) {
    const { applied } = await migrateDown(handle.db);
    if (applied.length === 0) return undone;
    undone.push(...applied);
  }
}

describe('up → down → up on a fresh SQLite file', () => {
  it('up applies every registered migration, down undoes them all, up again gives the same schema', async () => {
    const handle = await open(join(dir(), 'fresh.db'));
    const names = await registered();
    expect(names[0]).toBe('0001-initial');
    expect(tables(handle)).toEqual([]);

    expect(await migrateToLatest(handle.db)).toEqual({ applied: names });
    expect(tables(handle)).toEqual(expect.arrayContaining(CORE_TABLES));
    expect((await listMigrations(handle.db)).every((m) => m.executedAt instanceof Date)).toBe(true);
    const full = snapshot(handle);

    expect(await downToEmpty(handle)).toEqual([...names].reverse());
    expect(snapshot(handle)).toEqual([]);
    expect((await listMigrations(handle.db)).map((m) => m.executedAt)).toEqual(names.map(() => undefined));

    expect(await migrateToLatest(handle.db)).toEqual({ applied: names });
    expect(snapshot(handle)).toEqual(full);
  });

  it("each migration's down restores the schema from before its up", async () => {
    const handle = await open(join(dir(), 'steps.db'));
    const migrator = new Migrator({ db: handle.db, provider: migrationProvider });
    const before: string[][] = [];
    for (const name of await registered()) {
      before.push(snapshot(handle));
      const { error, results } = await migrator.migrateUp();
      expect(error).toBeUndefined();
      expect(results?.map((r) => r.migrationName)).toEqual([name]);
      if (POSTGRES_ONLY_MIGRATIONS.has(name)) expect(snapshot(handle)).toEqual(before.at(-1));
      else expect(snapshot(handle)).not.toEqual(before.at(-1));
    }
    while (before.length > 0) {
      await migrateDown(handle.db);
      expect(snapshot(handle)).toEqual(before.pop());
    }
  });

  it('up on an up-to-date database and down on an empty one apply nothing', async () => {
    const handle = await open(join(dir(), 'idem.db'));
    expect(await migrateDown(handle.db)).toEqual({ applied: [] });
    await migrateToLatest(handle.db);
    expect(await migrateToLatest(handle.db)).toEqual({ applied: [] });
  });

  it('openDatabase migrates by default', async () => {
    const handle = await openDatabase({ driver: 'sqlite', file: join(dir(), 'default.db') });
    cleanup.push(() => handle.close());
    expect(tables(handle)).toEqual(expect.arrayContaining(CORE_TABLES));
  });
});

/**
 * The SQLite DDL of every migration, byte for byte: the schema after each step as SQLite stores it
 * (`sqlite_master.sql`), Kysely's bookkeeping left out. The snapshot was taken before the
 * migrations became dialect-aware (issue 14): a data directory made by an older release must
 * upgrade into exactly the schema a fresh one gets. A new migration adds its step to the snapshot;
 * an old step never changes.
 */
describe('the SQLite schema of each migration', () => {
  it('is byte-identical to the committed snapshot', async () => {
    const handle = await open(join(dir(), 'schema.db'));
    const migrator = new Migrator({ db: handle.db, provider: migrationProvider });
    const lines: string[] = [];
    for (const name of await registered()) {
      const { error } = await migrator.migrateUp();
      expect(error).toBeUndefined();
      lines.push(`-- after ${name}`);
      const rows = handle.sqlite.prepare("SELECT type, name, sql FROM sqlite_master WHERE tbl_name NOT LIKE 'kysely_%' ORDER BY name").all() as { type: string; name: string; sql: string | null }[];
      for (const r of rows) lines.push(`${r.type} ${r.name}: ${r.sql ?? '(implicit)'}`);
    }
    const expected = readFileSync(new URL('migrations-sqlite-schema.txt', import.meta.url), 'utf8');
    expect(`${lines.join('\n')}\n`).toBe(expected);
  });
});

describe('0006-identifier-counts', () => {
  it('gives rows counted before it their request count as identifiers, and its down drops the column with the rows kept', async () => {
    const handle = await open(join(dir(), 'counts.db'));
    const migrator = new Migrator({ db: handle.db, provider: migrationProvider });
    expect((await migrator.migrateTo('0005-watch-lifts')).error).toBeUndefined();
    handle.sqlite.prepare("INSERT INTO check_counts (day, purpose, key_id, served, hits) VALUES ('2025-03-01', 'registration', 'k', 7, 2)").run();
    expect((await migrator.migrateTo('0006-identifier-counts')).error).toBeUndefined();
    expect(handle.sqlite.prepare('SELECT served, identifiers, hits FROM check_counts').get()).toEqual({ served: 7, identifiers: 7, hits: 2 });
    handle.sqlite.prepare("INSERT INTO check_counts (day, purpose, key_id, served, hits) VALUES ('2025-03-02', 'watch', 'k', 1, 0)").run();
    expect(handle.sqlite.prepare("SELECT identifiers FROM check_counts WHERE purpose = 'watch'").get()).toEqual({ identifiers: 0 });
    expect((await migrator.migrateTo('0005-watch-lifts')).error).toBeUndefined();
    expect(handle.sqlite.prepare('SELECT * FROM check_counts ORDER BY day').all()).toEqual([
      { day: '2025-03-01', purpose: 'registration', key_id: 'k', served: 7, hits: 2 },
      { day: '2025-03-02', purpose: 'watch', key_id: 'k', served: 1, hits: 0 },
    ]);
  });
});

describe('a node on a database migrated down and up again', () => {
  it('lists and checks', async () => {
    const dataDir = dir();
    await initDataDir({ dataDir, member: 'alpha', port: 0, epochs: [{ epoch: 1, secret: TEST_EPOCH_SECRET }] });
    const config = loadConfig(dataDir, {});
    const handle = await openDatabase({ driver: 'sqlite', file: config.databaseFile });
    await downToEmpty(handle);
    expect(tables(handle)).toEqual([]);
    await migrateToLatest(handle.db);
    await handle.close();

    const node = await createNode(config, { logger: createLogger('silent') });
    cleanup.push(() => node.stop());
    const url = await node.listen();
    // The down migration dropped the admin key made at init: make a new one.
    const { key } = await node.keys.create('write', 'after migrations');
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('/v1/listings', listingBody())).status).toBe(201);
    expect((await json<CheckBody>(await post('/v1/check', { identifiers: [phone()] }))).decision).toBe('deny');
  });
});
