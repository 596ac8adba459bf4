/**
 * Vitest global setup, two things at once:
 * - compiles the project, so the CLI tests can run the real `jointban` command
 *   (`node dist/src/cli/main.js`) as a child process. A failed build stops the whole run with the
 *   compiler's output: a CLI test against stale build output proves nothing.
 * - starts one throwaway PostgreSQL cluster for the run with a migrated template database
 *   (test/helpers/postgres-cluster.ts), when Debian's binaries are installed; the test files
 *   read its URL, or why there is none, with `inject('postgres')` (test/helpers/postgres.ts).
 *   Both run side by side, so the cluster adds little to the build's time.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { createMigratedTemplate, findPostgresBin, startTestCluster, type PostgresProvided, type TestCluster } from './helpers/postgres-cluster.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function build(): Promise<void> {
  const child = spawn('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`build failed to start: ${err.message}`)));
    child.once('close', resolve);
  });
  if (status !== 0) throw new Error(`build failed (npx tsc -p tsconfig.json exited ${String(status)}):\n${output}`);
}

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
  const [built, started] = await Promise.allSettled([build(), startPostgres()]);
  const cluster = started.status === 'fulfilled' && typeof started.value !== 'string' ? started.value : undefined;
  if (built.status === 'rejected') {
    await cluster?.stop();
    throw built.reason;
  }
  if (started.status === 'rejected') throw started.reason;
  const provided: PostgresProvided = cluster ? { url: cluster.url } : { missing: String(started.value) };
  project.provide('postgres', provided);
  return async () => {
    await cluster?.stop();
  };
}
