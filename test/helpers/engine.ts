/**
 * Which engine a test run's nodes keep their data in. The `integration` project runs on SQLite;
 * `integration-postgres` (test/vitest.config.ts) runs the same files with JOINTBAN_TEST_ENGINE=postgres,
 * each node in a fresh database of the run's throwaway cluster (test/helpers/postgres.ts). The
 * helpers that make nodes (createTestNode, the federation helpers, child nodes, `jointban init`
 * through the CLI) ask here, so a test file runs on both engines unchanged.
 */
import type { ConfigFile } from '../../src/config/schema.js';
import { createTestDatabase } from './postgres.js';

export type TestEngine = 'sqlite' | 'postgres';

export const TEST_ENGINE_ENV = 'JOINTBAN_TEST_ENGINE';

export function testEngine(): TestEngine {
  const value = process.env[TEST_ENGINE_ENV];
  if (value === undefined || value === 'sqlite') return 'sqlite';
  if (value === 'postgres') return 'postgres';
  throw new Error(`${TEST_ENGINE_ENV}=${value}: must be sqlite or postgres`);
}

export interface TestDatabaseSection {
  /** The config's `database` section: undefined on SQLite (the default file in the data directory). */
  database: ConfigFile['database'] | undefined;
  /** The URL on PostgreSQL, for `jointban init --database-url`. */
  url: string | undefined;
  /** Drops the PostgreSQL database; nothing on SQLite (the data directory goes with it). */
  drop(): Promise<void>;
}

/**
 * Where a new test node keeps its data on this run's engine (or on `engine`, for a file about one
 * engine): on PostgreSQL, a fresh migrated database.
 */
export async function testDatabaseSection(engine: TestEngine = testEngine()): Promise<TestDatabaseSection> {
  if (engine === 'sqlite') return { database: undefined, url: undefined, drop: async () => {} };
  const database = await createTestDatabase();
  return { database: { driver: 'postgres', url: database.url }, url: database.url, drop: () => database.drop() };
}
