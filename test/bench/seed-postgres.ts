/**
 * The check bench on PostgreSQL (`npm run bench -- --only check --engine postgres`): the store
 * seed.ts wrote into SQLite is copied, table by table, into a fresh migrated PostgreSQL database
 * with COPY, and the data directory's config is pointed at it. The node then starts on PostgreSQL
 * with the very rows it would have had on SQLite: same listings, same tokens, same log and tree
 * (so the checkpoint it signs at start is the same), and its API key rows.
 *
 * `listing_tokens` gets its `seq` from the identity, in rowid order: the order the rows were
 * written in.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CONFIG_FILE_NAME } from '../../src/config/load.js';
import { openDatabase } from '../../src/store/database.js';

/** COPY's text format of one value: NULL as \N, bytes as bytea hex, text with its specials escaped. */
function copyValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `\\\\x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return String(value).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** Rows of COPY text, a batch of lines per chunk. */
function* copyLines(rows: IterableIterator<unknown[]>): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    chunk += `${row.map(copyValue).join('\t')}\n`;
    if (chunk.length > 1 << 20) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

export interface CopiedStore {
  url: string;
  rows: number;
  copyMs: number;
}

/**
 * Copies every table of the SQLite file into the empty database at `url` (migrated here first),
 * in one transaction. Returns how many rows.
 */
export async function copySqliteToPostgres(sqliteFile: string, url: string): Promise<number> {
  const migrated = await openDatabase({ driver: 'postgres', url, poolSize: 2, connectTimeoutMs: 10_000 });
  await migrated.close();
  const sqlite = new SQLite(sqliteFile, { readonly: true });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let rows = 0;
  try {
    const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'kysely_%' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
    await client.query('BEGIN');
    for (const table of tables) {
      const columns = (sqlite.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
      const list = columns.map((c) => `"${c}"`).join(', ');
      const order = table === 'listing_tokens' ? ' ORDER BY rowid' : '';
      const select = sqlite.prepare(`SELECT ${list} FROM "${table}"${order}`).raw();
      rows += (sqlite.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number) ?? 0;
      await client.query(`DELETE FROM "${table}"`);
      const copy = client.query(copyFrom(`COPY "${table}" (${list}) FROM STDIN`));
      await pipeline(Readable.from(copyLines(select.iterate() as IterableIterator<unknown[]>)), copy);
    }
    // The identity of watch_events continues past the copied ids.
    await client.query("SELECT setval(pg_get_serial_sequence('watch_events', 'id'), coalesce((SELECT max(id) FROM watch_events), 0) + 1, false)");
    await client.query('COMMIT');
    await client.query('ANALYZE');
  } finally {
    sqlite.close();
    await client.end();
  }
  return rows;
}

/**
 * Copies the node's SQLite file under `dataDir` into the empty database at `url` and rewrites the
 * config's `database` section to it.
 */
export async function copyStoreToPostgres(dataDir: string, url: string): Promise<CopiedStore> {
  const started = performance.now();
  const configFile = join(dataDir, CONFIG_FILE_NAME);
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  const sqliteFile = join(dataDir, ((config.database as { file?: string } | undefined)?.file ?? 'jointban.db') as string);
  const rows = await copySqliteToPostgres(sqliteFile, url);
  config.database = { driver: 'postgres', url };
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return { url, rows, copyMs: performance.now() - started };
}
