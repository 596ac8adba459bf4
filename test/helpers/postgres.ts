/**
 * PostgreSQL in a test file: whether the run's cluster is there (test/global-setup.ts starts it
 * when Debian's binaries are installed), and one fresh database per test file, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { adminQuery, databaseUrl, MIGRATED_TEMPLATE } from './postgres-cluster.js';
import { suiteCanRun } from './optional-suite.js';

/** True when the PostgreSQL suite can run here; otherwise the skip rule of optional-suite.ts. */
export function postgresCanRun(suite: string): boolean {
  const provided = inject('postgres');
  return suiteCanRun({
    suite,
    missing: 'missing' in provided ? provided.missing : undefined,
    enable: 'apt-get install postgresql (or set JOINTBAN_POSTGRES_BIN to the directory of initdb and pg_ctl)',
  });
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, ending any connection still open on it. */
  drop(): Promise<void>;
}

/**
 * A fresh database on the run's cluster: a copy of the migrated template, or with `empty` one no
 * migration has touched (for the migrations' own tests).
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const provided = inject('postgres');
  if ('missing' in provided) throw new Error(`no PostgreSQL for this run: ${provided.missing}`);
  const name = `jointban_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(provided.url, `CREATE DATABASE ${name} TEMPLATE ${options.empty === true ? 'template0' : MIGRATED_TEMPLATE}`);
  return {
    name,
    url: databaseUrl(provided.url, name),
    drop: () => adminQuery(provided.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
