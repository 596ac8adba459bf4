/**
 * The one place a database is opened. SQLite (src/store/sqlite/) is the embedded default: WAL mode
 * so checks read while a listing is written, and synchronous=FULL so a committed transaction
 * survives power loss, not just a process crash: a write is acknowledged only after it is durable.
 * Everything outside this file and the engine's folder speaks dialect-neutral Kysely or the store's
 * ports (bulk-append.ts, log-batch-reader.ts), whose engine adapters are chosen here.
 */
import { Kysely, Migrator } from 'kysely';
import { migrationProvider } from '../../migrations/index.js';
import { AppError } from '../errors.js';
import type { BulkAppend } from './bulk-append.js';
import type { LogSnapshots } from './log-batch-reader.js';
import { sqliteBulkAppend } from './sqlite/bulk-append.js';
import { sqliteLogSnapshots } from './sqlite/log-batch-reader.js';
import { openSqlite, type SqliteConnection } from './sqlite/connection.js';
import { sqliteDialect } from './sqlite/dialect.js';
import type { Database } from './tables.js';

export interface OpenDatabaseOptions {
  driver: 'sqlite';
  file: string;
  /** Apply pending migrations before returning (the default: nodes migrate on start). */
  migrate?: boolean;
  /**
   * Open an existing database for reading only, without migrating it: for audits of a node's data
   * (`jointban verify`), which must not change what they check.
   */
  readonly?: boolean;
}

export interface DatabaseHandle {
  db: Kysely<Database>;
  /** The raw SQLite connection, for the few hot paths that the benchmark shows need it. */
  sqlite: SqliteConnection;
  /** The log batch reader `jointban verify` walks, in one read snapshot (log-batch-reader.ts). */
  logSnapshots: LogSnapshots;
  close(): Promise<void>;
}

// The raw connection behind each Kysely instance opened here, for the engine's fast adapters
// (bulk append); a Kysely built elsewhere (another dialect) has none.
const rawConnections = new WeakMap<Kysely<Database>, SqliteConnection>();

/** The SQLite connection behind `db`, when `openDatabase` opened it on SQLite. */
export function sqliteOf(db: Kysely<Database>): SqliteConnection | undefined {
  return rawConnections.get(db);
}

/**
 * The engine's fast bulk-append adapter for transactions of `db` (bulk-append.ts), when it has one;
 * undefined leaves the writers on the Kysely reference.
 */
export function bulkAppendOf(db: Kysely<Database>): BulkAppend | undefined {
  const sqlite = rawConnections.get(db);
  return sqlite && sqliteBulkAppend(sqlite);
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const readonly = options.readonly === true;
  const sqlite = openSqlite(options.file, readonly);
  const db = new Kysely<Database>({ dialect: sqliteDialect(sqlite, readonly) });
  rawConnections.set(db, sqlite);
  const handle: DatabaseHandle = {
    db,
    sqlite,
    logSnapshots: sqliteLogSnapshots(db, sqlite),
    close: async () => {
      await db.destroy();
    },
  };
  if (options.migrate !== false && !readonly) {
    try {
      await migrateToLatest(db);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
  return handle;
}

function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: migrationProvider });
}

export interface MigrationReport {
  applied: string[];
}

async function runMigration(step: Promise<{ error?: unknown; results?: { migrationName: string; status: string }[] }>): Promise<MigrationReport> {
  const { error, results } = await step;
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new AppError('internal', `migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

export function migrateToLatest(db: Kysely<Database>): Promise<MigrationReport> {
  return runMigration(migrator(db).migrateToLatest());
}

export function migrateDown(db: Kysely<Database>): Promise<MigrationReport> {
  return runMigration(migrator(db).migrateDown());
}

export async function listMigrations(db: Kysely<Database>): Promise<{ name: string; executedAt: Date | undefined }[]> {
  return (await migrator(db).getMigrations()).map((m) => ({ name: m.name, executedAt: m.executedAt }));
}
