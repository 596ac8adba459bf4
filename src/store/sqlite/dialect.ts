/**
 * Kysely's dialect on a better-sqlite3 connection, as `openDatabase` (src/store/database.ts) uses it.
 */
import type SQLite from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Dialect, type Driver, type SqliteDialectConfig } from 'kysely';

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

/** A writable handle's transactions begin IMMEDIATE (above); a read-only handle's with a plain `BEGIN`. */
export function sqliteDialect(sqlite: SQLite.Database, readonly: boolean): Dialect {
  return readonly ? new SqliteDialect({ database: sqlite }) : new WriterSqliteDialect({ database: sqlite });
}
