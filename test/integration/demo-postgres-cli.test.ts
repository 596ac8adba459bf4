/**
 * `jointban demo --database-url URL` as a user runs it: the built CLI as a child process puts each
 * node in a database of its own on that server (`<the URL's database>_<member>`), a listing on a
 * node is denied by its checks, and SIGTERM stops everything, exits 0 and drops those databases.
 * A role that may not create databases is one line, a non-zero exit, and nothing left behind.
 * Against the run's cluster (test/helpers/postgres.ts); the child gets its own TMPDIR, as in
 * demo-cli.test.ts, so the test sees the demo's directory come and go.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { spawnDemo } from '../helpers/demo.js';
import { json, listingBody, phone, type CheckBody } from '../helpers/fixtures.js';
import { adminQuery } from '../helpers/postgres-cluster.js';
import { createTestDatabase, postgresCanRun } from '../helpers/postgres.js';
import { tempDir } from '../helpers/test-node.js';

const PASSWORD = 'Demo-pw-never-shown';

const cleanup: (() => Promise<void> | void)[] = [];
let child: ChildProcess | undefined;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function clusterUrl(): string {
  const provided = inject('postgres');
  if ('missing' in provided) throw new Error(provided.missing);
  return provided.url;
}

/** The cluster's databases whose names start with `prefix_`. */
async function databasesOf(prefix: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: clusterUrl() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname', [`${prefix}_`]);
    return rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

const post = (url: string, key: string, body: unknown) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe.runIf(postgresCanRun('the demo on PostgreSQL'))('jointban demo --database-url', () => {
  it('puts each node in <database>_<member>, serves listings and checks, and drops the databases at SIGTERM', async () => {
    const base = await createTestDatabase();
    cleanup.push(() => base.drop());
    cleanup.push(() => adminQuery(clusterUrl(), `DROP DATABASE IF EXISTS ${base.name}_association WITH (FORCE)`, `DROP DATABASE IF EXISTS ${base.name}_alpha WITH (FORCE)`));
    const tmp = tempDir('jointban-demo-pg-');
    cleanup.push(() => rmSync(tmp, { recursive: true, force: true }));

    const demo = spawnDemo(['--nodes', '1', '--database-url', base.url], { TMPDIR: tmp });
    const { proc, exited } = demo;
    child = proc;
    const summary = await demo.summary();
    expect(await databasesOf(base.name)).toEqual([`${base.name}_alpha`, `${base.name}_association`]);
    expect(readdirSync(tmp)).toEqual([expect.stringMatching(/^jointban-demo-/)]);

    const alpha = summary.nodes[0]!;
    const ids = [phone()];
    expect((await post(`${alpha.url}/v1/listings`, alpha.apiKeys.write, listingBody({ identifiers: ids }))).status).toBe(201);
    expect((await json<CheckBody>(await post(`${alpha.url}/v1/check`, alpha.apiKeys.check, { identifiers: ids }))).decision).toBe('deny');
    // The listing is in alpha's own database, not in the one the URL names.
    const client = new pg.Client({ connectionString: new URL(`/${base.name}_alpha`, base.url).toString() });
    await client.connect();
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM listings');
    await client.end();
    expect(rows).toEqual([{ n: '1' }]);

    proc.kill('SIGTERM');
    expect(await exited, demo.stderr()).toEqual({ code: 0, signal: null });
    expect(await databasesOf(base.name)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a role that may not create databases: one line naming it, no password, a non-zero exit, nothing left', async () => {
    const base = await createTestDatabase();
    cleanup.push(() => base.drop());
    const role = `jb_nocreatedb_${base.name.slice(-6)}`;
    await adminQuery(clusterUrl(), `CREATE ROLE ${role} LOGIN NOCREATEDB PASSWORD '${PASSWORD}'`);
    cleanup.push(() => adminQuery(clusterUrl(), `DROP ROLE IF EXISTS ${role}`));
    const url = new URL(base.url);
    url.username = role;
    url.password = PASSWORD;
    const tmp = tempDir('jointban-demo-pg-');
    cleanup.push(() => rmSync(tmp, { recursive: true, force: true }));

    const result = await runCli(['demo', '--json', '--nodes', '1', '--database-url', url.toString()], { TMPDIR: tmp });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^jointban: cannot create database ${base.name}_association at ${role}@[^ ]+/${base.name}: the role may not create databases[^\\n]*\\n$`));
    expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
    expect(await databasesOf(base.name)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
