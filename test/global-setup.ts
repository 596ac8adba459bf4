/**
 * Global setup of the `integration`, `integration-postgres` and `faults` projects
 * (test/vitest.config.ts), two things at once:
 * - compiles the project (test/helpers/build.ts), so the CLI tests can run the real `jointban`
 *   command (`node dist/src/cli/main.js`) as a child process and the worker tests their scripts;
 * - starts one throwaway PostgreSQL cluster for the run with a migrated template database
 *   (test/helpers/postgres-cluster.ts), when Debian's binaries are installed; the test files
 *   read its URL, or why there is none, with `inject('postgres')` (test/helpers/postgres.ts).
 *   Both run side by side, so the cluster adds little to the build's time.
 * The `unit`, `fuzz` and `browser` projects need neither and have no global setup.
 */
import type { TestProject } from 'vitest/node';
import { buildOnce } from './helpers/build.js';
import { createMigratedTemplate, findPostgresBin, startTestCluster, type PostgresProvided, type TestCluster } from './helpers/postgres-cluster.js';

/** The cluster, or why there is none (no binaries: the PostgreSQL suites then skip or fail). */
async function startPostgres(): Promise<TestCluster | string> {
  const { bin, where } = findPostgresBin();
  if (bin === undefined) return `no initdb and pg_ctl in ${where}`;
  const cluster = await startTestCluster(bin);
  try {
    await createMigratedTemplate(cluster.url);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [built, started] = await Promise.allSettled([buildOnce(), startPostgres()]);
  const cluster = started.status === 'fulfilled' && typeof started.value !== 'string' ? started.value : undefined;
  if (built.status === 'rejected') {
    await cluster?.stop();
    throw built.reason;
  }
  if (started.status === 'rejected') throw started.reason;
  const provided: PostgresProvided = cluster ? { url: cluster.url, dataDir: cluster.dataDir } : { missing: String(started.value) };
  project.provide('postgres', provided);
  return async () => {
    await cluster?.stop();
  };
}
