/**
 * A stopped node's data directory copied whole, on either engine, and raw SQL on a store outside
 * the node's code, as an attacker or a faulty disk would change it (test/integration/verify.test.ts).
 * On SQLite the copy is the directory, database file included; on PostgreSQL the directory and a
 * new database made from the node's as a template (CREATE DATABASE … TEMPLATE: the node must be
 * stopped, no session on it), the copy's config pointing to it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { inject } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { WRITER_LOCK_KEY } from '../../src/store/postgres/connection.js';
import { typeParsers } from '../../src/store/postgres/types.js';
import { adminQuery, databaseUrl } from './postgres-cluster.js';
import { tempDir } from './test-node.js';

export interface DataDirCopy {
  dir: string;
  /** Removes the directory and, on PostgreSQL, drops the database. */
  remove(): Promise<void>;
}

function clusterUrl(): string {
  const provided = inject('postgres');
  if ('missing' in provided) throw new Error(`no PostgreSQL for this run: ${provided.missing}`);
  return provided.url;
}

const databaseName = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1));

export async function copyDataDir(source: string, prefix = 'jointban-copy-'): Promise<DataDirCopy> {
  const dir = tempDir(prefix);
  cpSync(source, dir, { recursive: true });
  const { database } = loadConfig(source, {});
  if (database.driver === 'sqlite') return { dir, remove: async () => rmSync(dir, { recursive: true, force: true }) };
  const admin = clusterUrl();
  const name = `jointban_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(admin, `CREATE DATABASE ${name} TEMPLATE "${databaseName(database.url)}"`);
  const file = join(dir, CONFIG_FILE_NAME);
  const config = JSON.parse(readFileSync(file, 'utf8')) as { database: { url: string } };
  config.database.url = databaseUrl(admin, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return {
    dir,
    remove: async () => {
      rmSync(dir, { recursive: true, force: true });
      await adminQuery(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Raw SQL on a node's store: `?` placeholders on both engines; rows parsed as the node parses them. */
export interface StoreSql {
  get<R>(statement: string, ...params: unknown[]): Promise<R | undefined>;
  run(statement: string, ...params: unknown[]): Promise<void>;
}

/** `?` placeholders as PostgreSQL's `$1`, `$2`…: no statement of these tests has a `?` inside a string. */
export function numbered(statement: string): string {
  let n = 0;
  return statement.replace(/\?/g, () => `$${++n}`);
}

/** Runs `fn` with raw SQL on the store of the data directory `dir`, on a connection of its own. */
export async function withStoreSql<T>(dir: string, fn: (sql: StoreSql) => Promise<T>): Promise<T> {
  const config = loadConfig(dir, {});
  if (config.database.driver === 'sqlite') {
    const db = new SQLite(config.database.file);
    try {
      return await fn({
        get: async <R>(statement: string, ...params: unknown[]) => db.prepare(statement).get(...params) as R | undefined,
        run: async (statement, ...params) => {
          db.prepare(statement).run(...params);
        },
      });
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: config.database.url, types: typeParsers });
  await client.connect();
  try {
    return await fn({
      get: async <R>(statement: string, ...params: unknown[]) => (await client.query(numbered(statement), params)).rows[0] as R | undefined,
      run: async (statement, ...params) => {
        await client.query(numbered(statement), params);
      },
    });
  } finally {
    await client.end();
  }
}

/**
 * A digest of everything the store holds: the database file's bytes on SQLite; on PostgreSQL
 * every row of every table of the public schema, in a fixed order.
 */
export async function storeDigest(dir: string): Promise<string> {
  const config = loadConfig(dir, {});
  if (config.database.driver === 'sqlite') return `sqlite:${createHash('sha256').update(readFileSync(config.database.file)).digest('hex')}`;
  const client = new pg.Client({ connectionString: config.database.url });
  await client.connect();
  try {
    const tables = (await client.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")).rows;
    const parts: string[] = [];
    for (const { name } of tables) {
      const row = (await client.query<{ digest: string }>(`SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest FROM "${name}" AS t`)).rows[0]!;
      parts.push(`${name}:${row.digest}`);
    }
    return parts.join(',');
  } finally {
    await client.end();
  }
}

/**
 * Runs `fn` while another connection holds the store's writer lock, as a node's write transaction
 * does: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory lock (src/store/postgres/connection.ts).
 */
export async function whileWriterLockHeld<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const config = loadConfig(dir, {});
  if (config.database.driver === 'sqlite') {
    const db = new SQLite(config.database.file);
    db.exec('BEGIN IMMEDIATE');
    try {
      return await fn();
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: config.database.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(${WRITER_LOCK_KEY})`);
    return await fn();
  } finally {
    await client.query('ROLLBACK');
    await client.end();
  }
}
