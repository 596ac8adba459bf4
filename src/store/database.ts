/**
 * The one place a database is opened. SQLite (src/store/sqlite/) is the embedded default: WAL mode
 * so checks read while a listing is written, and synchronous=FULL so a committed transaction
 * survives power loss, not just a process crash: a write is acknowledged only after it is durable.
 * PostgreSQL (src/store/postgres/) is for a platform that runs the node on a server it already
 * operates; its durability is the server's (synchronous_commit on, its default).
 * Everything outside this file and the engine's folder speaks dialect-neutral Kysely or the store's
 * ports (bulk-append.ts, log-batch-reader.ts), whose engine adapters are chosen here.
 */
import { Kysely, Migrator } from 'kysely';
import { migrationProvider } from '../../migrations/index.js';
import { AppError } from '../errors.js';
import type { BulkAppendFor } from './bulk-append.js';
import type { LogSnapshots } from './log-batch-reader.js';
import { sqliteBulkAppend } from './sqlite/bulk-append.js';
import { sqliteLogSnapshots } from './sqlite/log-batch-reader.js';
import { describeConnectError, openPostgresPool, poolProbe, postgresDialect, type PostgresOptions, type PostgresPool } from './postgres/connection.js';
import { postgresBulkAppend } from './postgres/bulk-append.js';
import { postgresLogSnapshots } from './postgres/log-snapshots.js';
import { openSqlite, type SqliteConnection } from './sqlite/connection.js';
import { sqliteDialect } from './sqlite/dialect.js';
import type { Database } from './tables.js';

/** Per-member databases for a short-lived federation (`jointban demo --database-url`). */
export { createScratchDatabases, type ScratchDatabases } from './postgres/databases.js';

export type OpenDatabaseOptions = ({ driver: 'sqlite'; file: string } | ({ driver: 'postgres' } & Omit<PostgresOptions, 'readonly'>)) & {
  /** Apply pending migrations before returning (the default: nodes migrate on start). */
  migrate?: boolean;
  /**
   * Open an existing database for reading only, without migrating it: for audits of a node's data
   * (`jointban verify`), which must not change what they check.
   */
  readonly?: boolean;
  /** Where a connection error outside any request goes (PostgreSQL's idle clients); ignored by default. */
  onConnectionError?: (err: Error) => void;
};

/** The engine under a handle, for the few parts that hold engine-specific state (token index, workers). */
export type DatabaseEngine = { name: 'sqlite'; sqlite: SqliteConnection; file: string } | { name: 'postgres'; pool: PostgresPool; options: Omit<PostgresOptions, 'readonly'> };

export interface DatabaseHandle {
  db: Kysely<Database>;
  engine: DatabaseEngine;
  /**
   * The raw SQLite connection, for the tests and benchmarks that inspect the file; throws on a
   * PostgreSQL handle. The node's own code asks `engine` instead.
   */
  readonly sqlite: SqliteConnection;
  /** The log batch reader `jointban verify` walks, in one read snapshot (log-batch-reader.ts). */
  logSnapshots: LogSnapshots;
  /**
   * Whether the database answers now, within a deadline (/readyz): always on SQLite, whose file
   * is local; a trivial statement on PostgreSQL, at most one at a time.
   */
  reachable(): Promise<boolean>;
  close(): Promise<void>;
}

// The raw connection behind each Kysely instance opened here, for the engine's fast adapters
// (bulk append); a Kysely built elsewhere (another dialect) has none.
const engines = new WeakMap<Kysely<Database>, DatabaseEngine>();
// The COPY adapter of each PostgreSQL engine, built once with its statement timeout.
const postgresBulk = new WeakMap<DatabaseEngine, BulkAppendFor>();

/** The SQLite connection behind `db`, when `openDatabase` opened it on SQLite. */
export function sqliteOf(db: Kysely<Database>): SqliteConnection | undefined {
  const engine = engines.get(db);
  return engine?.name === 'sqlite' ? engine.sqlite : undefined;
}

/** The engine behind `db`, when `openDatabase` opened it. */
export function engineOf(db: Kysely<Database>): DatabaseEngine | undefined {
  return engines.get(db);
}

/**
 * How another thread opens its own connection to the database behind `db` (the ingest worker,
 * federation/worker-committer.ts): the same SQLite file, or a small pool of its own on the same
 * PostgreSQL database. Plain data, so it crosses to a worker thread. Undefined where there is no
 * second connection to have: an in-memory or read-only SQLite database, a Kysely not opened here.
 */
export function reopenOptions(db: Kysely<Database>, poolSize: number): OpenDatabaseOptions | undefined {
  const engine = engines.get(db);
  if (engine === undefined) return undefined;
  if (engine.name === 'sqlite') return engine.sqlite.memory || engine.sqlite.readonly ? undefined : { driver: 'sqlite', file: engine.file, migrate: false };
  return { driver: 'postgres', ...engine.options, poolSize, migrate: false };
}

/**
 * The engine's fast bulk-append adapter for transactions of `db` (bulk-append.ts), when it has one:
 * prepared statements on SQLite, COPY on PostgreSQL; undefined leaves the writers on the Kysely
 * reference.
 */
export function bulkAppendOf(db: Kysely<Database>): BulkAppendFor | undefined {
  const engine = engines.get(db);
  if (engine?.name === 'sqlite') {
    const bulk = sqliteBulkAppend(engine.sqlite);
    return () => bulk;
  }
  return engine && postgresBulk.get(engine);
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const readonly = options.readonly === true;
  const handle = options.driver === 'sqlite' ? openSqliteHandle(options.file, readonly) : await openPostgresHandle(options, readonly);
  if (options.migrate !== false && !readonly) {
    try {
      await migrateToLatest(handle.db);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }
  return handle;
}

function openSqliteHandle(file: string, readonly: boolean): DatabaseHandle {
  const sqlite = openSqlite(file, readonly);
  const db = new Kysely<Database>({ dialect: sqliteDialect(sqlite, readonly) });
  const engine: DatabaseEngine = { name: 'sqlite', sqlite, file };
  engines.set(db, engine);
  return {
    db,
    engine,
    sqlite,
    logSnapshots: sqliteLogSnapshots(db, sqlite),
    reachable: () => Promise.resolve(true),
    close: async () => {
      await db.destroy();
    },
  };
}

async function openPostgresHandle(options: Extract<OpenDatabaseOptions, { driver: 'postgres' }>, readonly: boolean): Promise<DatabaseHandle> {
  const { driver: _driver, migrate: _migrate, readonly: _readonly, onConnectionError, ...pgOptions } = options;
  const pool = openPostgresPool({ ...pgOptions, readonly }, onConnectionError ?? (() => {}));
  // One round trip before anything else, so a wrong URL, an unreachable server, a missing database
  // or a refused role is one line at start (describeConnectError), not a failure of the first request.
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw describeConnectError(err, pgOptions.url);
  }
  const db = new Kysely<Database>({ dialect: postgresDialect(pool, readonly) });
  const engine: DatabaseEngine = { name: 'postgres', pool, options: pgOptions };
  engines.set(db, engine);
  postgresBulk.set(engine, postgresBulkAppend({ statementTimeoutMs: pgOptions.statementTimeoutMs }));
  let closed: Promise<void> | undefined;
  return {
    db,
    engine,
    get sqlite(): SqliteConnection {
      throw new Error('this database is PostgreSQL: it has no SQLite connection');
    },
    logSnapshots: postgresLogSnapshots(db, pgOptions),
    reachable: poolProbe(pool),
    close: () => (closed ??= db.destroy()),
  };
}

function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: migrationProvider });
}

export interface MigrationReport {
  applied: string[];
}

async function runMigration(db: Kysely<Database>, step: Promise<{ error?: unknown; results?: { migrationName: string; status: string }[] }>): Promise<MigrationReport> {
  let outcome: Awaited<typeof step>;
  try {
    outcome = await step;
  } catch (err) {
    throw migrationError(db, err, undefined);
  }
  const { error, results } = outcome;
  // No failed migration in the results: Kysely's own tables or lock failed, before any migration.
  if (error) throw migrationError(db, error, results?.find((r) => r.status === 'Error')?.migrationName);
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

/**
 * A failed migration as one line. On PostgreSQL it names the role, server and database and what
 * refused (a role without CREATE, a lost server: describeConnectError), never the password.
 */
function migrationError(db: Kysely<Database>, err: unknown, failed: string | undefined): unknown {
  const engine = engineOf(db);
  if (engine?.name === 'postgres') {
    const described = describeConnectError(err instanceof AppError && err.code === 'unavailable' ? new Error(err.message) : err, engine.options.url);
    return failed === undefined ? described : new AppError(described.code, `migration ${failed} failed: ${described.message}`);
  }
  return new AppError('internal', `migration ${failed ?? 'set-up (kysely_migration tables)'} failed: ${err instanceof Error ? err.message : String(err)}`);
}

export function migrateToLatest(db: Kysely<Database>): Promise<MigrationReport> {
  return runMigration(db, migrator(db).migrateToLatest());
}

export function migrateDown(db: Kysely<Database>): Promise<MigrationReport> {
  return runMigration(db, migrator(db).migrateDown());
}

export async function listMigrations(db: Kysely<Database>): Promise<{ name: string; executedAt: Date | undefined }[]> {
  return (await migrator(db).getMigrations()).map((m) => ({ name: m.name, executedAt: m.executedAt }));
}
