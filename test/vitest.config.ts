/**
 * The test suite, in five projects (README.md, "Tests"). Run from the repository root:
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
 * - fuzz: property-based tests of the parsers and the HTTP APIs in process (docs/FUZZING.md);
 *   fixed seeds unless FUZZ_SEED is set.
 * - faults: crashes (SIGKILL), graceful stops with writes in flight, partitions and outages, lost
 *   disks. Random choices are seeded, fixed by default (test/helpers/fault-seed.ts:
 *   JOINTBAN_FAULT_SEED=<n> replays a printed seed, =random draws a new one). Global setup: the
 *   build (test/global-build.ts).
 * - browser: the dashboard in Chromium; skipped with one line when it is missing
 *   (test/helpers/optional-suite.ts).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

/** A project of the files under test/<dir>, with the shared settings below. */
function project(name: string, dir: string, test: TestProjectInlineConfiguration['test'] = {}): TestProjectInlineConfiguration {
  // Only the TypeScript sources: dist/ holds compiled copies of the tests.
  return { extends: true, test: { name, include: [`test/${dir}/**/*.test.ts`], ...test } };
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
      project('fuzz', 'fuzz'),
      project('faults', 'faults', { globalSetup: ['test/global-build.ts'] }),
      project('browser', 'browser'),
    ],
  },
});
