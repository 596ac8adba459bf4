/**
 * The column types the migrations spell differently on SQLite and PostgreSQL (issue 14). On SQLite
 * each is exactly the word the migrations wrote before they knew PostgreSQL, so a SQLite database
 * gets byte-identical DDL (test/integration/migrations-sqlite-schema.txt). Frozen like the
 * migrations that use it: a later need gets a new name here, never a new meaning for an old one.
 */
import { PostgresIntrospector, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export interface ColumnTypes {
  postgres: boolean;
  /** Raw bytes: tokens, hashes, signed entries. */
  bytes: 'blob' | 'bytea';
  /**
   * An integer that can pass 2^31 (token epochs go to 2^32 − 1). SQLite's `integer` is already
   * 64-bit; PostgreSQL's is 32-bit.
   */
  int64: 'integer' | 'bigint';
}

/** The dialect is read from Kysely's public introspector: migrations never import src/. */
export function columnTypes(db: AnyDb): ColumnTypes {
  const postgres = db.introspection instanceof PostgresIntrospector;
  return postgres ? { postgres, bytes: 'bytea', int64: 'bigint' } : { postgres, bytes: 'blob', int64: 'integer' };
}
