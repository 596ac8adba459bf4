/**
 * The one place a database is opened. SQLite (better-sqlite3) is the embedded default: WAL mode so
 * checks read while a listing is written, and synchronous=FULL so a committed transaction survives
 * power loss, not just a process crash: a write is acknowledged only after it is durable.
 * Everything outside this file speaks dialect-neutral Kysely.
 */
import type SQLite from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDialectConfig } from 'kysely';
import { migrationProvider } from '../../migrations/index.js';
import { AppError } from '../errors.js';
import type { LogSnapshots } from './log-batch-reader.js';
import { sqliteLogSnapshots } from './sqlite/log-batch-reader.js';
import { openSqlite } from './sqlite-connection.js';
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
  sqlite: SQLite.Database;
  /** The log batch reader `jointban verify` walks, in one read snapshot (log-batch-reader.ts). */
  logSnapshots: LogSnapshots;
  close(): Promise<void>;
}

// The raw connection behind each Kysely instance opened here, for the bulk write paths
// (store/bulk-statements.ts); a Kysely built elsewhere (another dialect) has none.
const rawConnections = new WeakMap<Kysely<Database>, SQLite.Database>();

/** The better-sqlite3 connection behind `db`, when `openDatabase` opened it on SQLite. */
export function sqliteOf(db: Kysely<Database>): SQLite.Database | undefined {
  return rawConnections.get(db);
}

/**
 * Kysely's SQLite driver opens every transaction with a deferred `BEGIN`: the transaction reads
 * under a snapshot and asks for the write lock at its first write, and when another process
 * (`jointban import --relist` beside a running node, docs/OPERATIONS.md) committed in between,
 * SQLite cannot upgrade the stale snapshot and fails with SQLITE_BUSY_SNAPSHOT at once, whatever
 * the busy timeout. `BEGIN IMMEDIATE` takes the write lock first, waiting up to the busy timeout,
 * so writers of every process on one file serialise in the database (DESIGN.md). Every Kysely
 * transaction of a writable handle is a write transaction; a read-only handle keeps `BEGIN`.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class WriterSqliteDialect extends SqliteDialect {
  constructor(private readonly writerConfig: SqliteDialectConfig) {
    super(writerConfig);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.writerConfig);
  }
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const readonly = options.readonly === true;
  const sqlite = openSqlite(options.file, readonly);
  const dialect = readonly ? new SqliteDialect({ database: sqlite }) : new WriterSqliteDialect({ database: sqlite });
  const db = new Kysely<Database>({ dialect });
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
