/**
 * The `jointban` command on a PostgreSQL node when something is wrong (issue 14, "Bad input and
 * faults"): each failure is one `jointban: …` line naming what failed (role@host:port/database),
 * never the password, and a non-zero exit; `backup` and `restore` refuse such a node and point to
 * the database's own tools. Real child processes on the built CLI, against the run's cluster.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { runCli, runCliJson, type CliResult } from '../helpers/cli.js';
import { adminQuery, databaseUrl, freePort } from '../helpers/postgres-cluster.js';
import { createTestDatabase, postgresCanRun, type TestDatabase } from '../helpers/postgres.js';
import { tempDir } from '../helpers/test-node.js';

const PASSWORD = 'Sekr3t-pw-never-shown';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** The URL with a role and this test's password in it. */
function withRole(url: string, role: string, password = PASSWORD): string {
  const u = new URL(url);
  u.username = role;
  u.password = password;
  return u.toString();
}

/** One `jointban: …` line on stderr that matches `message`, a non-zero exit, and no password anywhere. */
function expectOneLine(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.code).not.toBeNull();
  expect(result.stderr).toMatch(/^jointban: [^\n]+\n$/);
  expect(result.stderr).toMatch(message);
  expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
}

describe.runIf(postgresCanRun('the PostgreSQL CLI tests'))('jointban on a PostgreSQL node', () => {
  let database: TestDatabase;
  let dataDir: string;
  let cluster: { url: string; dataDir: string };

  beforeEach(async () => {
    const provided = inject('postgres');
    if ('missing' in provided) throw new Error(provided.missing);
    cluster = provided;
    database = await createTestDatabase();
    cleanup.push(() => database.drop());
    const parent = tempDir();
    cleanup.push(() => rmSync(parent, { recursive: true, force: true }));
    dataDir = join(parent, 'node');
    await runCliJson(['init', '--data-dir', dataDir, '--member', 'alpha', '--port', '0', '--database-url', database.url]);
  });

  describe('backup and restore refuse it, writing nothing', () => {
    it('jointban backup: one line pointing to docs/OPERATIONS.md, no backup file, no manifest', async () => {
      const to = join(dataDir, '..', 'backup.db');
      const before = readdirSync(dataDir).sort();
      expectOneLine(await runCli(['backup', '--data-dir', dataDir, '--to', to]), /backup works on a SQLite node only.*PostgreSQL.*pg_dump.*docs\/OPERATIONS\.md, "PostgreSQL"/);
      expect(existsSync(to)).toBe(false);
      expect(existsSync(`${to}.json`)).toBe(false);
      expect(readdirSync(dataDir).sort()).toEqual(before);
    });

    it('jointban restore: one line pointing to docs/OPERATIONS.md, before it reads the backup; no marker, no file', async () => {
      const before = readdirSync(dataDir).sort();
      // The backup does not even exist: the refusal comes before anything is read.
      const result = await runCli(['restore', '--from', join(dataDir, '..', 'missing.db'), '--data-dir', dataDir, '--force']);
      expectOneLine(result, /restore works on a SQLite node only.*docs\/OPERATIONS\.md, "PostgreSQL"/);
      expect(readdirSync(dataDir).sort()).toEqual(before);
    });
  });

  it('jointban own-log --mark-restored marks a database restored with pg_restore, as jointban restore marks its own', async () => {
    expect(await runCliJson(['own-log', '--data-dir', dataDir])).toMatchObject({ member: 'alpha', recovering: false });
    const marked = await runCliJson<{ recovering: boolean; reason: string; since: string }>(['own-log', '--data-dir', dataDir, '--mark-restored']);
    expect(marked).toMatchObject({ member: 'alpha', recovering: true, reason: 'restore' });
    // The mark is in the database: the next look (and the node at its start) sees it.
    expect(await runCliJson(['own-log', '--data-dir', dataDir])).toMatchObject({ recovering: true, reason: 'restore', since: marked.since });
    expectOneLine(await runCli(['own-log', '--data-dir', dataDir, '--mark-restored', '--abandon-recovery']), /choose one/);
  });

  describe('start and migrate refuse a database they cannot use, in one line without the password', () => {
    const both = async (url: string, message: RegExp) => {
      const env = { JOINTBAN_DATABASE_URL: url };
      const start = await runCli(['start', '--data-dir', dataDir], env);
      expectOneLine(start, message);
      const migrate = await runCli(['migrate', '--data-dir', dataDir], env);
      expectOneLine(migrate, message);
      expect(migrate.stdout).toBe('');
    };

    it('a malformed URL', async () => {
      await both(`postgres://alpha:${PASSWORD}@[127.0.0.1:5432/db`, /database\.url: not a URL/);
    });

    it('an unreachable server (a closed loopback port)', async () => {
      // Free now, and nothing listens on it: a connection is refused.
      const port = await freePort();
      await both(
        `postgres://alpha:${PASSWORD}@127.0.0.1:${port}/jointban`,
        new RegExp(`^jointban: cannot use PostgreSQL at alpha@127\\.0\\.0\\.1:${port}/jointban: the server cannot be reached \\(ECONNREFUSED\\)`),
      );
    });

    it('a database that does not exist', async () => {
      const url = withRole(databaseUrl(cluster.url, 'jointban_no_such_database'), 'postgres');
      const where = new URL(url).host;
      await both(url, new RegExp(`^jointban: cannot use PostgreSQL at postgres@${where.replace(/\./g, '\\.')}/jointban_no_such_database: the database does not exist`));
    });

    it('a role without the right to create the tables', async () => {
      const empty = await createTestDatabase({ empty: true });
      cleanup.push(() => empty.drop());
      const role = `jb_norights_${empty.name.slice(-6)}`;
      await adminQuery(cluster.url, `CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
      cleanup.push(() => adminQuery(cluster.url, `DROP ROLE IF EXISTS ${role}`));
      await adminQuery(empty.url, 'REVOKE CREATE ON SCHEMA public FROM PUBLIC');
      const url = withRole(empty.url, role);
      await both(url, new RegExp(`^jointban: cannot use PostgreSQL at ${role}@[^ ]+/${empty.name}: the role lacks a right the node needs \\(permission denied for schema public\\)`));
      // Nothing was created in the database the role could not use.
      const tables = await runCli(['migrate', '--data-dir', dataDir], { JOINTBAN_DATABASE_URL: empty.url });
      expect(tables.code, tables.stderr).toBe(0);
      expect(JSON.parse(tables.stdout)).toMatchObject({ applied: expect.arrayContaining(['0001-initial']) as string[] });
    });

    it('a wrong password (password auth for one role on the cluster)', async () => {
      const role = `jb_pw_${database.name.slice(-6)}`;
      await adminQuery(cluster.url, `CREATE ROLE ${role} LOGIN PASSWORD 'the-right-one'`);
      cleanup.push(() => adminQuery(cluster.url, `DROP ROLE IF EXISTS ${role}`));
      // Trust for everyone else, as before; this role alone must give its password.
      const hba = join(cluster.dataDir, 'pg_hba.conf');
      const original = readFileSync(hba, 'utf8');
      writeFileSync(hba, `host all ${role} 127.0.0.1/32 scram-sha-256\n${original}`);
      cleanup.push(async () => {
        writeFileSync(hba, original);
        await adminQuery(cluster.url, 'SELECT pg_reload_conf()');
      });
      await adminQuery(cluster.url, 'SELECT pg_reload_conf()');
      await both(withRole(database.url, role), new RegExp(`^jointban: cannot use PostgreSQL at ${role}@[^ ]+/${database.name}: the server refused the role or its password`));
    });
  });
});
