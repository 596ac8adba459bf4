/**
 * One throwaway PostgreSQL cluster for a test run, from Debian's binaries (the `postgresql`
 * package): data and socket in a temp dir, loopback only on an ephemeral port, trust auth,
 * fsync off (tests only: a crash of the test machine loses nothing that matters), and room for
 * 400 connections (files run side by side, each with federations of nodes, each node a pool). initdb refuses
 * to run as root, so as root the cluster belongs to the `postgres` user (runuser). Started by
 * test/global-setup.ts, which hands the URL to the test files; stopped and removed at the end.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { migrationProvider } from '../../migrations/index.js';
import type { Database } from '../../src/store/tables.js';

const run = promisify(execFile);
const DEBIAN_ROOT = '/usr/lib/postgresql';
/** initdb and pg_ctl on a loaded 2-core machine: seconds, not minutes. */
const COMMAND_TIMEOUT_MS = 60_000;

export interface TestCluster {
  /** A superuser URL to the `postgres` database (no password: trust auth on loopback). */
  url: string;
  /** The cluster's data directory (pg_hba.conf, for a test that needs password auth). */
  dataDir: string;
  /**
   * `pg_ctl restart -m fast`, as two steps: every connection is ended, the server is down, and
   * comes back on the same port (the fault tests restart it under load). `whileDown` runs between
   * the stop and the start, so a test can look at the node while the server is gone.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/** Names the directory of initdb and pg_ctl elsewhere than Debian's (another OS, another version). */
export const POSTGRES_BIN_ENV = 'JOINTBAN_POSTGRES_BIN';

/**
 * The bin directory with initdb and pg_ctl: $JOINTBAN_POSTGRES_BIN, or else the newest Debian
 * PostgreSQL. Undefined when there is none; `where` says where it looked.
 */
export function findPostgresBin(): { bin: string | undefined; where: string } {
  const hasBinaries = (bin: string) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'));
  const named = process.env[POSTGRES_BIN_ENV];
  if (named !== undefined) return { bin: hasBinaries(named) ? named : undefined, where: `${POSTGRES_BIN_ENV}=${named}` };
  const versions = existsSync(DEBIAN_ROOT) ? readdirSync(DEBIAN_ROOT).filter((v) => /^\d+$/.test(v)) : [];
  const bin = versions
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(DEBIAN_ROOT, v, 'bin'))
    .find(hasBinaries);
  return { bin, where: `${DEBIAN_ROOT}/*/bin` };
}

/** A loopback port free at this moment (closed again: nothing listens on it until someone does). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no ephemeral port');
  return address.port;
}

/** Ids of the `postgres` user, to own the cluster when we run as root. */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * `durable`: keep fsync and full-page writes on, as a production server has them (the
 * benchmarks, test/bench/postgres-import-bench.ts); tests leave them off.
 */
export async function startTestCluster(bin: string, options: { durable?: boolean } = {}): Promise<TestCluster> {
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'jointban-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  // As root, every command runs as `postgres`, which must own the temp dir (data, socket, log).
  const as = async (command: string, args: string[]) =>
    root ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], { timeout: COMMAND_TIMEOUT_MS }) : run(join(bin, command), args, { timeout: COMMAND_TIMEOUT_MS });
  const pgCtl = (...args: string[]) => as('pg_ctl', ['-D', data, '-s', ...args]);
  const stop = async () => {
    try {
      // Immediate: nothing in a throwaway cluster is worth a checkpoint.
      if (existsSync(join(data, 'postmaster.pid'))) await pgCtl('-m', 'immediate', '-w', 'stop');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    if (root) {
      const { uid, gid } = await postgresUser();
      chownSync(dir, uid, gid);
    }
    await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    const port = await freePort();
    const unsafe = options.durable === true ? '' : ' -c fsync=off -c full_page_writes=off';
    const serverOptions = `-p ${port} -h 127.0.0.1 -k ${dir}${unsafe} -c max_connections=400`;
    await pgCtl('-l', log, '-w', '-t', '60', '-o', serverOptions, 'start');
    const restart = async (whileDown?: () => Promise<void>) => {
      await pgCtl('-m', 'fast', '-w', 'stop');
      try {
        await whileDown?.();
      } finally {
        await pgCtl('-l', log, '-w', '-t', '60', '-o', serverOptions, 'start');
      }
    };
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, dataDir: data, restart, stop };
  } catch (err) {
    const tail = existsSync(log) ? `\n${readFileSync(log, 'utf8').split('\n').slice(-10).join('\n')}` : '';
    await stop().catch(() => undefined);
    throw new Error(`the test PostgreSQL cluster did not start: ${(err as Error).message}${tail}`);
  }
}

/** What the global setup hands to the test files: the cluster's URL, or why there is none. */
export type PostgresProvided = { url: string; dataDir: string } | { missing: string };

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresProvided;
  }
}

/** The database every migrated test database is copied from (CREATE DATABASE … TEMPLATE). */
export const MIGRATED_TEMPLATE = 'jointban_migrated';

/** Runs statements on the cluster's `postgres` database, on one short-lived connection. */
export async function adminQuery(url: string, ...statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

/** The database URL of `name` on the cluster at `url`. */
export function databaseUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A Kysely on PostgreSQL, as the node will open one (issue 14): PostgresDialect over pg.Pool. */
export function postgresKysely(url: string): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 }) }) });
}

/** Creates the migrated template once per run, so each test file copies it instead of migrating. */
export async function createMigratedTemplate(url: string): Promise<void> {
  await adminQuery(url, `CREATE DATABASE ${MIGRATED_TEMPLATE}`);
  const db = postgresKysely(databaseUrl(url, MIGRATED_TEMPLATE));
  try {
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    if (error) throw new Error(`the migrations failed on PostgreSQL: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await db.destroy();
  }
}
