/**
 * The SQLite file operations of `jointban backup` and `restore` (src/store/backup.ts, restore.ts):
 * the online copy through SQLite's backup API (sqlite.org/backup.html), the structural check of a
 * copy, the migrations a file records, and whether another connection holds the file open. On
 * another engine the database's own tools back it up (docs/OPERATIONS.md).
 */
import { existsSync, rmSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import { AppError } from '../../errors.js';
import type { BackupProgress } from '../backup.js';
import { openSqlite } from './connection.js';

/** What better-sqlite3 accepts as "every remaining page in this step". */
const ALL_PAGES = 0x7fffffff;

/**
 * The online copy. Each backup step copies some pages in its own read transaction; when another
 * connection writes between steps, SQLite starts the copy over. A node that lists continuously
 * could keep a large copy restarting forever, so after the first restart the rest is copied in
 * one step: one read transaction, which in WAL mode does not hold up the node's writers.
 */
export async function copyOnline(databaseFile: string, tmp: string, stepPages: number, onProgress?: (p: BackupProgress) => void): Promise<number> {
  const source = openSqlite(databaseFile, true);
  let restarts = 0;
  let previous = Number.POSITIVE_INFINITY;
  try {
    await source.backup(tmp, {
      progress: ({ totalPages, remainingPages }) => {
        // Without writes every step leaves fewer pages; as many or more means SQLite started over.
        if (remainingPages >= previous) restarts++;
        previous = remainingPages;
        onProgress?.({ totalPages, remainingPages, restarts });
        return restarts > 0 ? ALL_PAGES : stepPages;
      },
    });
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new AppError('unavailable', `backup of ${databaseFile} failed: ${(err as Error).message}`);
  } finally {
    source.close();
  }
  return restarts;
}

/** Makes the copy a self-contained file and checks its structure before it is published. */
export function sealCopy(tmp: string): void {
  const copy = new SQLite(tmp, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    const check: unknown = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new AppError('internal', `the copy of the database does not pass SQLite's quick_check (${String(check)}): is the node's database damaged? Run jointban verify`);
  } finally {
    copy.close();
  }
}

/**
 * The migrations recorded in the database itself, known to this version or not: Kysely's own
 * listing shows only the ones it knows, and a restore must see those it does not.
 */
export function appliedMigrations(sqlite: SQLite.Database): string[] {
  const table = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'").get();
  if (table === undefined) return [];
  return (sqlite.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as { name: string }[]).map((r) => r.name);
}

/**
 * Whether another connection has the database open: a running node, a backup or a verify. Every
 * connection to a WAL database holds a shared lock on it for as long as it is open, so an
 * exclusive lock, tried without waiting, is refused exactly while one exists.
 */
export function databaseInUse(file: string): boolean {
  if (!existsSync(file)) return false;
  let probe: SQLite.Database | undefined;
  try {
    probe = new SQLite(file, { fileMustExist: true, timeout: 0 });
    probe.pragma('locking_mode = EXCLUSIVE');
    probe.exec('BEGIN EXCLUSIVE');
    probe.exec('COMMIT');
    return false;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // Anything else (not a database at all, say) is no sign of a user: the file is being replaced.
    return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  } finally {
    probe?.close();
  }
}

/** Checks the structure of `staged`, the copy of `backupFile` a restore is about to put in place. */
export function quickCheck(backupFile: string, staged: string): void {
  let result: unknown;
  let db: SQLite.Database | undefined;
  try {
    // Read-write, although nothing is written: our own copy, and a file in WAL mode needs it.
    db = new SQLite(staged, { fileMustExist: true });
    result = db.pragma('quick_check', { simple: true });
  } catch (err) {
    throw new AppError('invalid_input', `${backupFile}: not a usable SQLite database (${(err as Error).message})`);
  } finally {
    db?.close();
  }
  if (result !== 'ok') throw new AppError('invalid_input', `${backupFile}: the database is damaged (SQLite quick_check: ${String(result)})`);
}
