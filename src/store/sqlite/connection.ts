/**
 * The raw SQLite connection behind `openDatabase` (src/store/database.ts), and nothing else: opened
 * with the settings every connection needs. Separate so that a worker thread that only reads (the
 * parallel `jointban verify`: its log batch reader, log-batch-reader.ts here) opens its connection
 * the same way without loading Kysely and the migrations, which took most of a worker's start-up time.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { AppError } from '../../errors.js';

/** A connection to a SQLite file: the type the database handle exposes for SQLite's own fast paths. */
export type SqliteConnection = SQLite.Database;

/** Opens the SQLite file; `readonly` opens an existing one for reading only. */
export function openSqlite(file: string, readonly: boolean): SQLite.Database {
  let sqlite: SQLite.Database;
  try {
    if (!readonly) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      // Created here, readable by the node's user only (an empty file is an empty database), so
      // SQLite never creates it under the process umask; SQLite gives its -wal and -shm the
      // database file's mode. An existing file keeps its mode: `jointban init` tightens it.
      closeSync(openSync(file, 'a', 0o600));
    }
    sqlite = new SQLite(file, readonly ? { readonly: true, fileMustExist: true } : {});
  } catch (err) {
    throw new AppError('unavailable', `cannot open database ${file}: ${(err as Error).message}`);
  }
  // The journal mode is a property of the file, set by the writers; a reader cannot change it.
  if (!readonly) {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
  }
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return sqlite;
}
