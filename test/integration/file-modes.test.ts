/**
 * Who can read a node's files (docs/SECURITY.md; docs/OPERATIONS.md, the table of paths): the
 * database and its -wal and -shm, the token filter snapshot, the key file and jointban.json are the
 * node user's only (0600), and their directories 0700, whatever the umask, also when `jointban init`
 * runs in a directory that exists already and holds a database left from before. A node refuses to
 * start while jointban.json holds an epoch secret and others can read it, as it refuses such a key file.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { initDataDir } from '../../src/init.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import { TOKEN_SNAPSHOT_FILE } from '../../src/store/token-snapshot.js';
import { runCli } from '../helpers/cli.js';
import { listingBody, paymentAccount } from '../helpers/fixtures.js';
import { tempDir, TEST_EPOCH_SECRET } from '../helpers/test-node.js';

const mode = (file: string) => statSync(file).mode & 0o777;
let umask: number;

// A permissive umask, so that a file created without an explicit mode would show it.
beforeAll(() => {
  umask = process.umask(0o022);
});
afterAll(() => {
  process.umask(umask);
});

describe('the files of a node', () => {
  it("are its user's only: config, key, database with -wal and -shm, snapshot; directories 0700", async () => {
    const dataDir = join(tempDir('jointban-modes-'), 'node');
    const init = await initDataDir({ dataDir, member: 'alpha', port: 0, epochs: [{ epoch: 1, secret: TEST_EPOCH_SECRET }] });
    const node = await createNode(loadConfig(dataDir, {}), { logger: createLogger('silent') });
    try {
      const url = await node.listen();
      const res = await fetch(`${url}/v1/listings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${init.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(listingBody({ identifiers: [paymentAccount('alipay:modes-1')] })),
      });
      expect(res.status).toBe(201);
      const db = init.config.databaseFile;
      expect(existsSync(`${db}-wal`) && existsSync(`${db}-shm`)).toBe(true);
      for (const file of [init.config.configFile, init.config.signingKeyFile, db, `${db}-wal`, `${db}-shm`]) expect(mode(file), file).toBe(0o600);
    } finally {
      await node.stop();
    }
    expect(mode(join(dataDir, TOKEN_SNAPSHOT_FILE))).toBe(0o600);
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(join(dataDir, 'keys'))).toBe(0o700);
  });

  it('are tightened when init runs in an existing directory that holds a database from before', async () => {
    const dataDir = join(tempDir('jointban-modes-'), 'existing');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const leftover = join(dataDir, 'jointban.db');
    new SQLite(leftover).close();
    chmodSync(leftover, 0o644);
    const result = await runCli(['init', '--data-dir', dataDir, '--member', 'alpha', '--port', '0']);
    expect(result.code, result.stderr).toBe(0);
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(leftover)).toBe(0o600);
    expect(mode(join(dataDir, CONFIG_FILE_NAME))).toBe(0o600);
  });
});

describe('a node whose jointban.json others can read', () => {
  it('refuses to start while the file holds an epoch secret, in one line; starts once it holds none', async () => {
    const dataDir = join(tempDir('jointban-modes-'), 'readable');
    await initDataDir({ dataDir, member: 'alpha', port: 0, epochs: [{ epoch: 1, secret: TEST_EPOCH_SECRET }] });
    const configFile = join(dataDir, CONFIG_FILE_NAME);
    chmodSync(configFile, 0o644);
    const refused = await runCli(['start', '--data-dir', dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^jointban: config .*jointban\.json holds an epoch secret and is readable by other users: run chmod 600/)]);
    await expect(createNode(loadConfig(dataDir, {}), { logger: createLogger('silent') })).rejects.toThrow(/readable by other users/);

    // The secret moved to the environment: the file may be readable, the node starts.
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { tokens: { epochs: Record<string, unknown>[] } };
    config.tokens.epochs = [{ epoch: 1, secretEnv: 'JOINTBAN_TEST_SECRET' }];
    writeFileSync(configFile, JSON.stringify(config));
    expect(mode(configFile)).toBe(0o644);
    const node = await createNode(loadConfig(dataDir, { JOINTBAN_TEST_SECRET: Buffer.from(TEST_EPOCH_SECRET).toString('hex') }), { logger: createLogger('silent') });
    await node.stop();
  });
});
