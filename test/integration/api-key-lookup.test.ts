/**
 * The API-key lookup port (store/token-index.ts) under the API-key service's cache
 * (service/api-keys.ts), on both engines' adapters: a key revoked from a second connection or pool
 * (`jointban apikey revoke` in another process) stops authenticating at once on SQLite
 * (data_version) and within a short bounded wait on PostgreSQL (a LISTEN on `jointban_api_keys`);
 * while PostgreSQL's listener is down the cache is not trusted, and the listener comes back by itself.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKeyService } from '../../src/service/api-keys.js';
import { ApiKeyRepository } from '../../src/store/api-key-repository.js';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { PostgresApiKeyLookup } from '../../src/store/postgres/api-key-lookup.js';
import { openCheckStore, type ApiKeyLookup } from '../../src/store/token-index.js';
import { createTestDatabase, postgresCanRun } from '../helpers/postgres.js';
import { tempDir } from '../helpers/test-node.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const now = () => new Date('2025-06-15T12:00:00.000Z');
/** How long a PostgreSQL test waits for a notification or a reconnect before it fails. */
const WAIT_MS = 10_000;

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${WAIT_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A fresh database on the engine, opened twice: the node's handle and another process's. */
async function pair(engine: 'sqlite' | 'postgres'): Promise<{ own: DatabaseHandle; other: DatabaseHandle; url: string }> {
  let open: () => Promise<DatabaseHandle>;
  let url: string;
  if (engine === 'sqlite') {
    const dir = tempDir();
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    url = join(dir, 'node.db');
    open = () => openDatabase({ driver: 'sqlite', file: url });
  } else {
    const database = await createTestDatabase();
    cleanup.push(() => database.drop());
    url = database.url;
    open = () => openDatabase({ driver: 'postgres', url, poolSize: 4, connectTimeoutMs: 5000 });
  }
  const own = await open();
  cleanup.push(() => own.close());
  const other = await open();
  cleanup.push(() => other.close());
  return { own, other, url };
}

/** Counts the rows the lookup reads from the database: a cached key reads none. */
function counting(lookup: ApiKeyLookup): { lookup: ApiKeyLookup; reads: () => number } {
  let reads = 0;
  return {
    lookup: {
      apiKey: (id) => {
        reads += 1;
        return lookup.apiKey(id);
      },
      dataVersion: () => lookup.dataVersion(),
    },
    reads: () => reads,
  };
}

const refused = (keys: ApiKeyService, key: string) =>
  keys.authenticate(key).then(
    () => false,
    () => true,
  );

describe.each([
  { engine: 'sqlite' as const, canRun: true },
  { engine: 'postgres' as const, canRun: postgresCanRun('the API-key lookup on PostgreSQL (api-key-lookup.test.ts)') },
])('the API-key lookup on $engine', ({ engine, canRun }) => {
  it.runIf(canRun)('caches a key, and drops it when another process revokes it', async () => {
    const { own, other } = await pair(engine);
    const store = openCheckStore(own);
    cleanup.push(() => store.close());
    const { lookup, reads } = counting(store.apiKeys);
    const keys = new ApiKeyService(new ApiKeyRepository(own.db), now, lookup);
    const created = await keys.create('check', 'svc');
    if (store.apiKeys instanceof PostgresApiKeyLookup) {
      const listener = store.apiKeys;
      await until('the listener listens', () => listener.listening);
    }
    expect((await keys.authenticate(created.key)).keyId).toBe(created.id);
    const before = reads();
    expect((await keys.authenticate(created.key)).keyId).toBe(created.id);
    expect(reads()).toBe(before);

    expect(await new ApiKeyRepository(other.db).revoke(created.id, now().toISOString())).toBe(true);
    if (engine === 'sqlite') expect(await refused(keys, created.key)).toBe(true);
    else await until('the revoked key is refused', () => refused(keys, created.key));
  });
});

describe.runIf(postgresCanRun('the API-key lookup on PostgreSQL (api-key-lookup.test.ts)'))('the API-key listener on PostgreSQL', () => {
  const killListeners = (handle: DatabaseHandle) =>
    handle.engine.name === 'postgres' && handle.engine.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'jointban-listen'");

  it('is not trusted while it is down: every call reads the key, and a key revoked meanwhile is refused at once', async () => {
    const { own, other, url } = await pair('postgres');
    // A reconnect far beyond the test: the listener stays down once killed.
    const listener = new PostgresApiKeyLookup(own.db, { url, connectTimeoutMs: 5000, reconnectMinMs: 600_000 });
    listener.start();
    cleanup.push(() => listener.close());
    const { lookup, reads } = counting(listener);
    const keys = new ApiKeyService(new ApiKeyRepository(own.db), now, lookup);
    const created = await keys.create('check', 'svc');
    await until('the listener listens', () => listener.listening);
    expect(listener.dataVersion()).toBe(listener.dataVersion());

    await killListeners(own);
    await until('the listener sees its connection end', () => !listener.listening);
    expect(listener.dataVersion()).not.toBe(listener.dataVersion());
    await keys.authenticate(created.key);
    const before = reads();
    await keys.authenticate(created.key);
    expect(reads()).toBe(before + 1);

    expect(await new ApiKeyRepository(other.db).revoke(created.id, now().toISOString())).toBe(true);
    expect(await refused(keys, created.key)).toBe(true);
  });

  it('reconnects by itself, and then hears revocations again', async () => {
    const { own, other, url } = await pair('postgres');
    const listener = new PostgresApiKeyLookup(own.db, { url, connectTimeoutMs: 5000, reconnectMinMs: 20 });
    listener.start();
    cleanup.push(() => listener.close());
    const keys = new ApiKeyService(new ApiKeyRepository(own.db), now, listener);
    const created = await keys.create('check', 'svc');
    await until('the listener listens', () => listener.listening);
    await killListeners(own);
    await until('the listener sees its connection end', () => !listener.listening);
    await until('the listener listens again', () => listener.listening);
    expect(listener.dataVersion()).toBe(listener.dataVersion());

    await keys.authenticate(created.key);
    expect(await new ApiKeyRepository(other.db).revoke(created.id, now().toISOString())).toBe(true);
    await until('the revoked key is refused', () => refused(keys, created.key));
  });
  it('is closed with the check store (a node closes it on stop): no listening connection is left', async () => {
    const { own } = await pair('postgres');
    const listeners = async () =>
      own.engine.name === 'postgres'
        ? Number((await own.engine.pool.query<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'jointban-listen'")).rows[0]!.n)
        : -1;
    const store = openCheckStore(own);
    const lookup = store.apiKeys as PostgresApiKeyLookup;
    await until('the listener listens', () => lookup.listening);
    expect(await listeners()).toBe(1);
    await store.close();
    expect(lookup.listening).toBe(false);
    await until('the listening connection is gone', async () => (await listeners()) === 0);
  });
});
