/**
 * The test suite, in six projects (README.md, "Tests"). Run from the repository root:
 * `npm test` runs them all; `npm run test:<project>` (or `npx vitest run --config
 * test/vitest.config.ts --project <project>`) runs one.
 *
 * - unit: the pure core and the pieces of the shell that are pure functions. No build step and no
 *   I/O: no database, no temporary file, no network, no child process or worker thread; reading a
 *   test vector (test/vectors/) or the shipped default policy (config/policy.json, pinned data like
 *   a vector) is the only file access, which test/unit/no-io.ts enforces. No global setup, so it
 *   starts at once.
 * - integration: real nodes, real SQLite files and a PostgreSQL cluster, the built CLI, worker
 *   threads. Global setup: the build and the cluster (test/global-setup.ts).
 * - integration-postgres: the same files with every node on PostgreSQL (JOINTBAN_TEST_ENGINE,
 *   test/helpers/engine.ts), less those about SQLite alone or that compare both engines
 *   themselves (SQLITE_ONLY below). Left out with one line where PostgreSQL's binaries are
 *   missing, and a failure then under JOINTBAN_REQUIRE_ALL_SUITES=1 (test/helpers/optional-suite.ts).
 * - fuzz: property-based tests of the parsers and the HTTP APIs in process (docs/FUZZING.md);
 *   fixed seeds unless FUZZ_SEED is set.
 * - faults: crashes (SIGKILL), graceful stops with writes in flight, partitions and outages, lost
 *   disks. Random choices are seeded, fixed by default (test/helpers/fault-seed.ts:
 *   JOINTBAN_FAULT_SEED=<n> replays a printed seed, =random draws a new one). Global setup: the
 *   build and the cluster, as for integration (the crash test runs on PostgreSQL too).
 * - browser: the dashboard in Chromium; skipped with one line when it is missing
 *   (test/helpers/optional-suite.ts).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { TEST_ENGINE_ENV } from './helpers/engine.js';
import { suiteCanRun } from './helpers/optional-suite.js';
import { findPostgresBin } from './helpers/postgres-cluster.js';

/** A project of the files under test/<dir>, with the shared settings below. */
function project(name: string, dir: string, test: TestProjectInlineConfiguration['test'] = {}): TestProjectInlineConfiguration {
  // Only the TypeScript sources: dist/ holds compiled copies of the tests.
  return { extends: true, test: { name, include: [`test/${dir}/**/*.test.ts`], ...test } };
}

/**
 * Integration files the PostgreSQL run leaves out, each for a reason: they are about SQLite's file
 * (backup and restore, file modes, the write lock, the raw fast paths; operations-restore-walk
 * walks the SQLite backup procedure, the PostgreSQL one has its own file), or they already run
 * against both engines themselves (migrations-postgres, bulk-append, check-store, api-key-lookup),
 * or make their own PostgreSQL databases whatever the run's engine (operations-restore-walk-postgres),
 * or read SQLite's query plans (watch-index).
 */
const SQLITE_ONLY = [
  'api-key-lookup.test.ts',
  'backup.test.ts',
  'backup-online.test.ts',
  'backup-federation.test.ts',
  'bulk-append.test.ts',
  'check-store.test.ts',
  'file-modes.test.ts',
  'lint-boundaries.test.ts',
  'migrations.test.ts',
  'migrations-postgres.test.ts',
  'operations-restore-walk.test.ts',
  'operations-restore-walk-postgres.test.ts',
  'postgres-cli.test.ts',
  'demo-postgres-cli.test.ts',
  'watch-index.test.ts',
  'write-lock.test.ts',
].map((file) => `test/integration/${file}`);

function postgresRunPossible(): boolean {
  const { bin, where } = findPostgresBin();
  // Vitest evaluates this file once per project and again in workers: the skip line once a run
  // (the variable is inherited by the workers, and set before any of them starts).
  if (process.env.JOINTBAN_POSTGRES_RUN_DECIDED !== undefined) return bin !== undefined;
  process.env.JOINTBAN_POSTGRES_RUN_DECIDED = '1';
  return suiteCanRun({
    suite: 'the integration suite on PostgreSQL (integration-postgres)',
    missing: bin === undefined ? `no initdb and pg_ctl in ${where}` : undefined,
    enable: 'apt-get install postgresql',
  });
}

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    // Integration tests start nodes, open databases and spawn the CLI: generous, not timing-based.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      // Pure tests share one module graph in worker threads: loading src/ once instead of once per
      // file halves the project's CPU time (measured: docs/BENCHMARKS.md, "Where each figure stands").
      project('unit', 'unit', { pool: 'threads', isolate: false, setupFiles: ['test/unit/no-io.ts'] }),
      project('integration', 'integration', { globalSetup: ['test/global-setup.ts'] }),
      ...(postgresRunPossible() ? [project('integration-postgres', 'integration', { globalSetup: ['test/global-setup.ts'], exclude: SQLITE_ONLY, env: { [TEST_ENGINE_ENV]: 'postgres' } })] : []),
      project('fuzz', 'fuzz'),
      project('faults', 'faults', { globalSetup: ['test/global-setup.ts'] }),
      project('browser', 'browser'),
    ],
  },
});
