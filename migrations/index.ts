/**
 * The static registry of migrations, in order. A static list (not a folder scan) means the
 * compiled package and the test run see exactly the same migrations.
 */
import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-federation.js';
import * as m0003 from './0003-audit.js';
import * as m0004 from './0004-watch.js';
import * as m0005 from './0005-watch-lifts.js';
import * as m0006 from './0006-identifier-counts.js';
import * as m0007 from './0007-postgres-change-feed.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-federation': m0002,
  '0003-audit': m0003,
  '0004-watch': m0004,
  '0005-watch-lifts': m0005,
  '0006-identifier-counts': m0006,
  '0007-postgres-change-feed': m0007,
};

/**
 * The migrations that change nothing on SQLite: what they add, SQLite has built in (0007's rowid
 * and data_version). The SQLite tests expect them to leave its schema as it was.
 */
export const POSTGRES_ONLY_MIGRATIONS: ReadonlySet<string> = new Set(['0007-postgres-change-feed']);

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
