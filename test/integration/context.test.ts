/**
 * The composition root (src/context.ts): one database per context, opened once and released by
 * close; overrides (a temp database, a fixed key, a fake clock) used instead of what the config
 * names, without a second graph; the parts that need secrets built only when asked for.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type NodeConfig } from '../../src/config/load.js';
import { createContext } from '../../src/context.js';
import { generateEd25519KeyPair } from '../../src/crypto/index.js';
import { initDataDir } from '../../src/init.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import * as database from '../../src/store/database.js';
import { TEST_EPOCH_SECRET, tempDir } from '../helpers/test-node.js';

// Counts the databases opened, while opening them as usual.
vi.mock('../../src/store/database.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/store/database.js')>();
  return { ...original, openDatabase: vi.fn(original.openDatabase) };
});
const openDatabase = vi.mocked(database.openDatabase);

const silent = createLogger('silent');
const dirs: string[] = [];

async function dataDir(): Promise<{ dir: string; config: NodeConfig }> {
  const dir = tempDir('jointban-context-');
  dirs.push(dir);
  await initDataDir({ dataDir: dir, member: 'alpha', port: 0, epochs: [{ epoch: 1, secret: TEST_EPOCH_SECRET }] });
  return { dir, config: loadConfig(dir, {}) };
}

afterEach(() => {
  openDatabase.mockClear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the database', () => {
  it("is the config's, opened once, and every repository works on it", async () => {
    const { config } = await dataDir();
    openDatabase.mockClear();
    const context = await createContext(config, { logger: silent });
    try {
      expect(openDatabase).toHaveBeenCalledTimes(1);
      expect(openDatabase.mock.calls[0]?.[0]).toMatchObject({ file: config.databaseFile });
      await context.repos.nodeMeta.put('probe', 'one');
      const row = context.database.sqlite.prepare("select value from node_meta where key = 'probe'").get() as { value: string };
      expect(row.value).toBe('one');
      expect(await context.repos.log.size('alpha')).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('close releases it, and a second close is harmless', async () => {
    const { config } = await dataDir();
    const context = await createContext(config, { logger: silent });
    expect(context.database.sqlite.open).toBe(true);
    await context.close();
    expect(context.database.sqlite.open).toBe(false);
    await expect(context.close()).resolves.toBeUndefined();
  });

  it('a node opens one database, for all its parts (federation included), and its stop releases it', async () => {
    const { config } = await dataDir();
    openDatabase.mockClear();
    const node = await createNode(config, { logger: silent });
    try {
      expect(openDatabase).toHaveBeenCalledTimes(1);
      expect(node.context.database).toBe(node.database);
      expect((await node.federation.status()).member).toBe('alpha');
    } finally {
      await node.stop();
    }
    expect(node.database.sqlite.open).toBe(false);
  });
});

describe('overrides', () => {
  it('a database handed in is used instead of the configured one, which is never created', async () => {
    const { dir, config } = await dataDir();
    const elsewhere = { ...config, databaseFile: join(dir, 'never.sqlite') };
    const handle = await database.openDatabase({ driver: 'sqlite', file: join(dir, 'temp.sqlite') });
    openDatabase.mockClear();
    const context = await createContext(elsewhere, { logger: silent, database: handle });
    expect(openDatabase).not.toHaveBeenCalled();
    expect(context.db).toBe(handle.db);
    await context.repos.nodeMeta.put('probe', 'temp');
    expect(await handle.db.selectFrom('node_meta').select('value').where('key', '=', 'probe').executeTakeFirst()).toEqual({ value: 'temp' });
    await context.close();
    expect(handle.sqlite.open).toBe(false);
    expect(existsSync(elsewhere.databaseFile)).toBe(false);
  });

  it('a fixed key is used instead of the key file, which is then never read', async () => {
    const { config } = await dataDir();
    rmSync(config.signingKeyFile);
    const fixed = generateEd25519KeyPair();
    const context = await createContext(config, { logger: silent, identity: fixed });
    try {
      expect(context.identity()).toBe(fixed);
      expect(context.signingKeys().primary).toBe(fixed);
    } finally {
      await context.close();
    }
    const without = await createContext(config, { logger: silent });
    try {
      expect(() => without.identity()).toThrow(/node\.key/);
    } finally {
      await without.close();
    }
  });

  it('a fake clock is what the services built on the context read', async () => {
    const { config } = await dataDir();
    const at = new Date('2031-02-03T04:05:06.000Z');
    const context = await createContext(config, { logger: silent, now: () => at });
    try {
      const created = await context.apiKeys().create('check', 'clock');
      const row = (await context.repos.apiKeys.list()).find((k) => k.id === created.id);
      expect(row?.created_at).toBe(at.toISOString());
    } finally {
      await context.close();
    }
  });

  it('a node built from a temp database and a fixed key uses both', async () => {
    const { dir, config } = await dataDir();
    const handle = await database.openDatabase({ driver: 'sqlite', file: join(dir, 'temp.sqlite') });
    const fixed = generateEd25519KeyPair();
    const node = await createNode(config, { logger: silent, database: handle, identity: fixed });
    try {
      expect(node.database).toBe(handle);
      expect(node.identity).toBe(fixed);
      const created = await node.keys.create('check', 'temp');
      expect(await handle.db.selectFrom('api_keys').select('id').where('id', '=', created.id).executeTakeFirst()).toEqual({ id: created.id });
    } finally {
      await node.stop();
    }
    expect(handle.sqlite.open).toBe(false);
  });
});

describe('parts that need secrets', () => {
  it('are built on first use: a config without the epoch secrets opens, reads, and refuses only to derive tokens', async () => {
    const { config } = await dataDir();
    const withoutSecrets: NodeConfig = { ...config, missingEpochSecrets: [1] };
    const context = await createContext(withoutSecrets, { logger: silent });
    try {
      expect(await context.heldRoster()).toBeUndefined();
      expect(context.trustRoot()).toBeUndefined();
      expect(() => context.tokenizer()).toThrow(/the secret of epoch 1 is not set/);
    } finally {
      await context.close();
    }
    const full = await createContext(config, { logger: silent });
    try {
      expect(full.tokenizer()).toBe(full.tokenizer());
    } finally {
      await full.close();
    }
  });
});
