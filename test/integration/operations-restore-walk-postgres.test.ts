/**
 * The operator's walk of docs/OPERATIONS.md, "Backup and restore on PostgreSQL" and "Before a
 * restored PostgreSQL node serves again", step by step, as written: the same story as the SQLite
 * walk (operations-restore-walk.test.ts) for a member whose data is in PostgreSQL. A `pg_dump`
 * taken while the node runs, listings after it, the machine lost (the database dropped, the data
 * directory gone but for `jointban.json` and `keys/`, which come back from their own backup), then
 * `createdb` + `pg_restore` into an empty database, `jointban migrate` and `jointban verify` before
 * the node serves again, `jointban own-log --mark-restored`, and the start: the node fetches the
 * entries appended after the dump back from its peers and never signs a second history.
 *
 * Every node of this federation is on PostgreSQL whatever the run's engine (the file makes its own
 * databases on the run's cluster), so it runs once, in project `integration` (SQLITE_ONLY in
 * test/vitest.config.ts). PostgreSQL's client tools (pg_dump, pg_restore, createdb) come from the
 * bin directory of the cluster's binaries, run as the current user with the URL (trust auth).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CONFIG_FILE_NAME } from '../../src/config/load.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { waitFor, type TestFederation } from '../helpers/federation.js';
import { oneLine, startWalkFederation, walkIds as ids } from '../helpers/operations-walk.js';
import { postgresCanRun } from '../helpers/postgres.js';
import { adminQuery, databaseUrl, findPostgresBin } from '../helpers/postgres-cluster.js';

const run = promisify(execFile);
/** pg_dump and pg_restore of a small database on a loaded machine: seconds, not minutes. */
const TOOL_TIMEOUT_MS = 60_000;

describe.runIf(postgresCanRun('the PostgreSQL restore walk (docs/OPERATIONS.md, "PostgreSQL")'))(
  'docs/OPERATIONS.md, "Backup and restore on PostgreSQL" and "Before a restored PostgreSQL node serves again", walked',
  () => {
    let fed: TestFederation;
    let alphaDir: string;
    let serverUrl: string;
    let restoredName: string | undefined;

    /** A PostgreSQL client tool of the cluster's version, run against the cluster's server. */
    async function tool(name: string, args: string[]): Promise<void> {
      const { bin } = findPostgresBin();
      const server = new URL(serverUrl);
      // createdb takes its server from the environment, as on an operator's shell.
      const env = { ...process.env, PGHOST: server.hostname, PGPORT: server.port, PGUSER: server.username };
      await run(join(bin!, name), args, { env, timeout: TOOL_TIMEOUT_MS });
    }

    beforeAll(async () => {
      const provided = inject('postgres');
      if ('missing' in provided) throw new Error(provided.missing);
      serverUrl = provided.url;
      ({ fed, alphaDir } = await startWalkFederation({ engine: 'postgres' }));
    }, 60_000);

    afterAll(async () => {
      await fed?.stop();
      if (restoredName !== undefined) await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${restoredName} WITH (FORCE)`);
    });

    it('dumps the running node, loses the machine, restores into an empty database, verifies before the start and recovers the own log', { timeout: 120_000 }, async () => {
      const configFile = join(alphaDir, CONFIG_FILE_NAME);
      const readConfig = () => JSON.parse(readFileSync(configFile, 'utf8')) as { database: { driver: string; url: string } };
      const lostUrl = readConfig().database.url;
      const lostName = new URL(lostUrl).pathname.slice(1);
      // jointban backup copies a SQLite file: on PostgreSQL it points to the section walked here.
      oneLine(await runCli(['backup', '--data-dir', alphaDir, '--to', join(fed.dir, 'alpha.db')]), /works on a SQLite node only.*docs\/OPERATIONS\.md, "PostgreSQL"; nothing was written$/);

      // Logical backup, taken while the node runs.
      await fed.list('alpha', ids('2'));
      const dumpFile = join(fed.dir, 'alpha.dump');
      await tool('pg_dump', ['--format=custom', `--file=${dumpFile}`, lostUrl]);

      // After the dump: two more listings, which only the peers will hold.
      await fed.list('alpha', ids('3'));
      await fed.list('alpha', ids('4'));
      await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 4 && (await fed.logSize(fed.association, 'alpha')) === 4, { message: 'the peers to mirror entries 3 and 4' });

      // The machine is lost: the node stops, its database and its data directory are gone;
      // jointban.json and keys/ come back from their own backup into a fresh data directory.
      const ownBackup = join(fed.dir, 'alpha-own-backup');
      mkdirSync(ownBackup);
      cpSync(configFile, join(ownBackup, CONFIG_FILE_NAME));
      cpSync(join(alphaDir, 'keys'), join(ownBackup, 'keys'), { recursive: true });
      await fed.stopNode('alpha');
      await adminQuery(serverUrl, `DROP DATABASE ${lostName} WITH (FORCE)`);
      rmSync(alphaDir, { recursive: true, force: true });
      mkdirSync(alphaDir, { mode: 0o700 });
      cpSync(ownBackup, alphaDir, { recursive: true });

      // 1. The node is stopped. 2. Restore into an empty database; point database.url at it.
      restoredName = `${lostName}_restored`;
      await tool('createdb', ['-O', new URL(serverUrl).username, restoredName]);
      const restoredUrl = databaseUrl(serverUrl, restoredName);
      await tool('pg_restore', ['--no-owner', `--role=${new URL(serverUrl).username}`, `--dbname=${restoredUrl}`, dumpFile]);
      const config = readConfig();
      config.database.url = restoredUrl;
      writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);

      // 3. migrate, then verify: every log verifies before the node serves again.
      const migrated = await runCli(['migrate', '--data-dir', alphaDir]);
      expect(migrated.code, migrated.stdout + migrated.stderr).toBe(0);
      const verified = await runCli(['verify', '--data-dir', alphaDir]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/^alpha\s+OK\s+2 entries/m);
      expect(verified.stdout).toMatch(/^beta\s+OK\s/m);

      // 4. The restored rows carry no mark of their own: without --mark-restored the node would append at 3.
      expect(await runCliJson<Record<string, unknown>>(['own-log', '--data-dir', alphaDir])).toMatchObject({ member: 'alpha', size: 2, recovering: false });
      const marked = await runCliJson<Record<string, unknown>>(['own-log', '--data-dir', alphaDir, '--mark-restored']);
      expect(marked).toMatchObject({ member: 'alpha', size: 2, recovering: true, reason: 'restore', waitingFor: ['association', 'beta'], answered: [], reachesAtLeast: 2 });

      // 5. Start: the node fetches entries 3 and 4 back from its peers before it appends.
      await fed.startNode('alpha');
      await waitFor(async () => (await fed.status('alpha')).ownLogRecovery === null, { message: 'the restored node to recover its own log' });
      expect(await runCliJson<Record<string, unknown>>(['own-log', '--data-dir', alphaDir])).toMatchObject({ recovering: false, size: 4 });
      expect((await fed.list('alpha', ids('5'))).seq).toBe(5);
      expect((await fed.check('alpha', ids('4'))).decision).toBe('deny');
      await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 5, { message: "beta to take the restored alpha's entry 5" });
      expect((await fed.status('beta')).misbehaviour).toEqual([]);
      expect((await fed.status('association')).misbehaviour).toEqual([]);
    });
  },
);
