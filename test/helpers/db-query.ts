/**
 * Reading a node's database in a test, on either engine (test/helpers/engine.ts): plain SQL that
 * SQLite and PostgreSQL both understand, run through the node's Kysely. Counts and sums come back
 * as numbers on both (the PostgreSQL pool parses bigint, src/store/postgres/connection.ts).
 */
import { sql } from 'kysely';
import type { DatabaseHandle } from '../../src/store/database.js';

/** The rows of one SELECT. */
export async function queryRows<R>(database: DatabaseHandle, text: string): Promise<R[]> {
  return (await sql.raw<R>(text).execute(database.db)).rows;
}

/** The first column of the first row of one SELECT, as a number (null stays null). */
export async function queryNumber(database: DatabaseHandle, text: string): Promise<number | null> {
  const [row] = await queryRows<Record<string, unknown>>(database, text);
  const value = row === undefined ? null : Object.values(row)[0];
  return value === null || value === undefined ? null : Number(value);
}

/** Rows in the log and in the projection: what a write that was refused must leave at zero. */
export async function rowCounts(database: DatabaseHandle): Promise<{ log: number; listings: number; tokens: number }> {
  const count = async (table: string) => (await queryNumber(database, `SELECT count(*) AS n FROM ${table}`)) ?? 0;
  return { log: await count('log_entries'), listings: await count('listings'), tokens: await count('listing_tokens') };
}
