/**
 * Bulk append (src/store/bulk-append.ts): each engine's fast adapter against its reference twin
 * (`kyselyBulkAppend`, dialect-neutral Kysely statements) on the same engine. SQLite's adapter is
 * src/store/sqlite/bulk-append.ts (prepared statements), PostgreSQL's src/store/postgres/bulk-append.ts
 * (COPY FROM STDIN, on a real server: the run's throwaway cluster, skipped with one line where
 * PostgreSQL is not installed). The same appends, listings and retractions through each, on two
 * fresh stores, must leave exactly the same rows, in the same order, and answer the same; and roll
 * back with the transaction they run in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Transaction } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { encodeEntry, type ListingEntry, type LogEntry } from '../../src/log/entry.js';
import { kyselyBulkAppend, type BulkAppendFor } from '../../src/store/bulk-append.js';
import { bulkAppendOf, openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { ListingWriter } from '../../src/store/listing-repository.js';
import { LogWriter } from '../../src/store/log-repository.js';
import { COPY_MIN_ROWS } from '../../src/store/postgres/bulk-append.js';
import { copyInto } from '../../src/store/postgres/copy.js';
import { sqliteBulkAppend } from '../../src/store/sqlite/bulk-append.js';
import type { Database } from '../../src/store/tables.js';
import { listing, retraction } from '../helpers/log-entries.js';
import { createTestDatabase, postgresCanRun, type TestDatabase } from '../helpers/postgres.js';

/**
 * The platform's reference of listing `seq`: none, plain, or with every character COPY's text
 * format reserves (tab, newline, carriage return, backslash) and some it does not.
 */
function referenceOf(seq: number): string | null {
  if (seq % 3 === 0) return null;
  return seq % 5 === 0 ? `acct-${seq}\t\\N\n\r\\x00 é,"'` : `acct-${seq}`;
}

/** Appends `entries` to their log and the projection through `bulk`, as a node's writers do; the retractions' answers. */
async function write(handle: DatabaseHandle, bulk: BulkAppendFor, origin: string, entries: LogEntry[]): Promise<boolean[]> {
  return handle.db.transaction().execute(async (trx) => {
    const log = new LogWriter(trx, bulk);
    const listings = new ListingWriter(trx, new Date('2025-06-01T00:00:00.000Z'), bulk);
    await log.append(
      origin,
      entries.map((e) => ({ seq: e.seq, kind: e.kind, time: e.time, bytes: encodeEntry(e) })),
    );
    await listings.insertListings(entries.filter((e): e is ListingEntry => e.kind === 'listing').map((entry) => ({ entry, reference: referenceOf(entry.seq) })));
    const answers: boolean[] = [];
    for (const e of entries) if (e.kind === 'retraction') answers.push(await listings.applyRetraction(e));
    return answers;
  });
}

const twoTokens = listing('alpha', 2, {
  tokens: [
    { type: 'phone', epoch: 1, token: 'f'.repeat(32) },
    { type: 'email', epoch: 4_294_967_295, token: 'e'.repeat(32) },
  ],
  evidenceDigest: `sha256:${'a'.repeat(64)}`,
  banUntil: '2026-01-01T00:00:00.000Z',
});

/** Small batches (under COPY_MIN_ROWS: the INSERT path on PostgreSQL) and large ones (COPY). */
const BATCHES: [string, LogEntry[]][] = [
  ['alpha', [listing('alpha', 1), twoTokens, listing('alpha', 3)]],
  ['beta', [listing('beta', 1)]],
  // A retraction, a repeated one (answers false, changes nothing) and one whose target has no listings row (a retraction).
  ['alpha', [retraction('alpha', 4, 2), listing('alpha', 5), retraction('alpha', 6, 2), retraction('alpha', 7, 4)]],
  ['alpha', Array.from({ length: 300 }, (_, i) => listing('alpha', 8 + i))],
  [
    'beta',
    Array.from({ length: 150 }, (_, i) => listing('beta', 2 + i, { tokens: Array.from({ length: 3 }, (_, k) => ({ type: 'email', epoch: k + 1, token: `${k}${i.toString(16)}`.padEnd(32, 'c') })) })),
  ],
];

/** Writes BATCHES and a late retraction through the reference on one store and the adapter on the other. */
async function writeBoth(reference: DatabaseHandle, fast: DatabaseHandle, bulk: BulkAppendFor): Promise<void> {
  for (const [origin, entries] of BATCHES) {
    const expected = await write(reference, kyselyBulkAppend, origin, entries);
    expect(await write(fast, bulk, origin, entries)).toEqual(expected);
  }
  expect(await write(reference, kyselyBulkAppend, 'alpha', [retraction('alpha', 308, 1)])).toEqual([true]);
  expect(await write(fast, bulk, 'alpha', [retraction('alpha', 308, 1)])).toEqual([true]);
}

// 309 entries of alpha (the late retraction included) and 150 of beta's second batch, besides its first.
const EXPECTED_COUNTS = { entries: 309 + 150, tokens: 306 + 450 };

describe('the SQLite bulk-append adapter and its Kysely reference', () => {
  let dir: string;
  let reference: DatabaseHandle;
  let fast: DatabaseHandle;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'jointban-bulk-append-'));
    reference = await openDatabase({ driver: 'sqlite', file: join(dir, 'reference.db') });
    fast = await openDatabase({ driver: 'sqlite', file: join(dir, 'fast.db') });
  });

  afterEach(async () => {
    await reference.close();
    await fast.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every row the writers write, in storage order (tokens by rowid: the order checks and verify read them in). */
  function rows(handle: DatabaseHandle): Record<string, unknown[]> {
    const all = (query: string) => handle.sqlite.prepare(query).raw().all();
    return {
      entries: all('SELECT origin, seq, kind, time, hex(bytes), hex(leaf_hash) FROM log_entries ORDER BY origin, seq'),
      nodes: all('SELECT origin, level, idx, hex(hash) FROM tree_nodes ORDER BY origin, level, idx'),
      listings: all('SELECT * FROM listings ORDER BY id'),
      tokens: all('SELECT rowid, hex(token), type, epoch, listing_id FROM listing_tokens ORDER BY rowid'),
      types: all('SELECT typeof(bytes), typeof(leaf_hash), typeof(seq), typeof(time) FROM log_entries GROUP BY 1, 2, 3, 4'),
    };
  }

  it('write the same rows and answer the same, batch after batch', async () => {
    const adapter = sqliteBulkAppend(fast.sqlite);
    await writeBoth(reference, fast, () => adapter);
    const want = rows(reference);
    expect(want['entries']).toHaveLength(EXPECTED_COUNTS.entries);
    expect(want['tokens']).toHaveLength(EXPECTED_COUNTS.tokens);
    expect(rows(fast)).toEqual(want);
  });

  it('roll back with the transaction they run in', async () => {
    const adapter = () => sqliteBulkAppend(fast.sqlite);
    await expect(
      fast.db.transaction().execute(async (trx) => {
        await new LogWriter(trx, adapter).append('alpha', [{ seq: 1, kind: 'listing', time: listing('alpha', 1).time, bytes: encodeEntry(listing('alpha', 1)) }]);
        await new ListingWriter(trx, new Date(), adapter).insertListing(listing('alpha', 1), null);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(rows(fast)).toEqual({ entries: [], nodes: [], listings: [], tokens: [], types: [] });
  });

  it('the fast adapter is the one a store opened on SQLite hands its writers', async () => {
    const bulk = bulkAppendOf(fast.db);
    expect(bulk).toBeDefined();
    await fast.db.transaction().execute(async (trx) => {
      expect(bulk!(trx)).toBe(sqliteBulkAppend(fast.sqlite));
    });
  });
});

describe.runIf(postgresCanRun('bulk append on PostgreSQL'))('the PostgreSQL bulk-append adapter (COPY) and its Kysely reference', () => {
  const databases: TestDatabase[] = [];
  const handles: DatabaseHandle[] = [];

  async function open(statementTimeoutMs?: number): Promise<DatabaseHandle> {
    const database = await createTestDatabase();
    databases.push(database);
    const handle = await openDatabase({ driver: 'postgres', url: database.url, poolSize: 4, connectTimeoutMs: 5000, ...(statementTimeoutMs ? { statementTimeoutMs } : {}) });
    handles.push(handle);
    return handle;
  }

  afterEach(async () => {
    for (const handle of handles.splice(0)) await handle.close();
    for (const database of databases.splice(0)) await database.drop();
  });

  /** Every row the writers write, in the order checks and verify read them (tokens by seq, the token index's watermark). */
  async function rows(handle: DatabaseHandle): Promise<Record<string, Record<string, unknown>[]>> {
    const all = async (query: string) => (await sql.raw<Record<string, unknown>>(query).execute(handle.db)).rows;
    return {
      entries: await all("SELECT origin, seq, kind, time, encode(bytes, 'hex') AS bytes, encode(leaf_hash, 'hex') AS leaf_hash FROM log_entries ORDER BY origin, seq"),
      nodes: await all("SELECT origin, level, idx, encode(hash, 'hex') AS hash FROM tree_nodes ORDER BY origin, level, idx"),
      listings: await all('SELECT * FROM listings ORDER BY id'),
      tokens: await all("SELECT seq, encode(token, 'hex') AS token, type, epoch, listing_id FROM listing_tokens ORDER BY seq"),
    };
  }

  /** Counts the statements that insert into each table, with a statement-level trigger: one COPY is one statement. */
  async function countStatements(handle: DatabaseHandle): Promise<() => Promise<Record<string, number>>> {
    await sql`CREATE TABLE inserts (tbl text NOT NULL)`.execute(handle.db);
    await sql`CREATE FUNCTION count_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO inserts VALUES (TG_TABLE_NAME); RETURN NULL; END $$`.execute(handle.db);
    for (const table of ['log_entries', 'tree_nodes', 'listings', 'listing_tokens'])
      await sql.raw(`CREATE TRIGGER ${table}_count AFTER INSERT ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION count_insert()`).execute(handle.db);
    return async () => {
      const counted = await sql<{ tbl: string; n: number }>`SELECT tbl, count(*) AS n FROM inserts GROUP BY tbl`.execute(handle.db);
      await sql`DELETE FROM inserts`.execute(handle.db);
      return Object.fromEntries(counted.rows.map((r) => [r.tbl, Number(r.n)]));
    };
  }

  it('write the same rows and answer the same, batch after batch', async () => {
    const reference = await open();
    const fast = await open();
    const bulk = bulkAppendOf(fast.db);
    expect(bulk).toBeDefined();
    await writeBoth(reference, fast, bulk!);
    const want = await rows(reference);
    expect(want['entries']).toHaveLength(EXPECTED_COUNTS.entries);
    expect(want['tokens']).toHaveLength(EXPECTED_COUNTS.tokens);
    expect((want['listings'] as { reference: string | null }[]).filter((r) => r.reference?.includes('\t\\N\n'))).not.toHaveLength(0);
    expect(await rows(fast)).toEqual(want);
  });

  it('copy a large batch in one statement per table, and write a small one with INSERTs', async () => {
    const fast = await open();
    const statements = await countStatements(fast);
    const bulk = bulkAppendOf(fast.db)!;
    await write(
      fast,
      bulk,
      'alpha',
      Array.from({ length: 300 }, (_, i) => listing('alpha', 1 + i)),
    );
    // The reference would take 3 statements for 300 entries, 2 for their 299 nodes, 3 for the listings, 2 for the tokens.
    expect(await statements()).toEqual({ log_entries: 1, tree_nodes: 1, listings: 1, listing_tokens: 1 });
    await write(fast, bulk, 'alpha', [listing('alpha', 301)]);
    expect(COPY_MIN_ROWS).toBeGreaterThan(3);
    expect(await statements()).toEqual({ log_entries: 1, tree_nodes: 1, listings: 1, listing_tokens: 1 });
    expect((await rows(fast))['tokens']).toHaveLength(301);
  });

  it('roll back with the transaction they run in', async () => {
    const fast = await open();
    const bulk = bulkAppendOf(fast.db)!;
    const entries = Array.from({ length: 200 }, (_, i) => listing('alpha', 1 + i));
    await expect(
      fast.db.transaction().execute(async (trx) => {
        await new LogWriter(trx, bulk).append(
          'alpha',
          entries.map((e) => ({ seq: e.seq, kind: 'listing', time: e.time, bytes: encodeEntry(e) })),
        );
        await new ListingWriter(trx, new Date(), bulk).insertListings(entries.map((entry) => ({ entry, reference: null })));
        expect(Number((await sql<{ n: number }>`SELECT count(*) AS n FROM listing_tokens`.execute(trx)).rows[0]!.n)).toBe(200);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await rows(fast)).toEqual({ entries: [], nodes: [], listings: [], tokens: [] });
  });

  /**
   * Holds, outside the node's writer lock, an uncommitted tree_nodes row that a COPY will collide
   * with: the COPY waits on it, as it would on a server that stopped answering.
   */
  async function blocker(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('BEGIN');
    await client.query("INSERT INTO tree_nodes (origin, level, idx, hash) VALUES ('alpha', 0, 0, '\\x00')");
    return client;
  }

  const stuckCopy = (trx: Transaction<Database>, deadlineMs: number) =>
    trx.getExecutor().provideConnection((connection) => copyInto(connection, { table: 'tree_nodes', columns: ['origin', 'level', 'idx', 'hash'], lines: ['alpha\t0\t0\t\\\\x01\n'], deadlineMs }));

  it('gives up on a COPY the server does not answer at its deadline: 503, the connection dropped, the pool still serving', async () => {
    const fast = await open();
    const held = await blocker(databases[0]!.url);
    try {
      const started = Date.now();
      const failure = await fast.db
        .transaction()
        .execute((trx) => stuckCopy(trx, 300))
        .catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(AppError);
      expect((failure as AppError).code).toBe('unavailable');
      expect((failure as AppError).message).toMatch(/COPY into tree_nodes got no answer from the server within 300 ms/);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await held.query('ROLLBACK');
      await held.end();
    }
    // The node goes on: a write through the adapter succeeds on a fresh connection.
    await write(
      fast,
      bulkAppendOf(fast.db)!,
      'alpha',
      Array.from({ length: 100 }, (_, i) => listing('alpha', 1 + i)),
    );
    expect((await rows(fast))['entries']).toHaveLength(100);
  });

  it('rejects with 503 when the server cancels a COPY at database.statementTimeoutMs', async () => {
    const fast = await open(200);
    const held = await blocker(databases[0]!.url);
    try {
      const failure = await fast.db
        .transaction()
        .execute((trx) => stuckCopy(trx, 60_000))
        .catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(AppError);
      expect((failure as AppError).message).toMatch(/statement ran past database.statementTimeoutMs/);
    } finally {
      await held.query('ROLLBACK');
      await held.end();
    }
    expect(await rows(fast)).toEqual({ entries: [], nodes: [], listings: [], tokens: [] });
  });
});
