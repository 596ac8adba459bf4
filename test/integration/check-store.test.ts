/**
 * The check hot path's token index (store/token-index.ts) against the Kysely query it replaces, on
 * both engines' adapters: a real SQLite file (store/sqlite/token-index.ts) and a real PostgreSQL
 * database (store/postgres/token-index.ts): random listings, retractions, expiry, writes from a
 * second connection or pool (another process), transactions in flight and rolled back. Whatever
 * happened, the in-memory token filter with its confirmation must answer exactly what
 * `ListingReader.matchTokens` answers. On PostgreSQL also: the writer lock makes `seq` commit in
 * order, so a check cannot skip a row committed late.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { IdentifierType } from '../../src/identifiers/types.js';
import type { ListingEntry } from '../../src/log/entry.js';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { ListingReader, ListingWriter, type TokenMatchRow, type TokenQuery } from '../../src/store/listing-repository.js';
import { openPostgresPool, postgresDialect } from '../../src/store/postgres/connection.js';
import { PostgresTokenIndex } from '../../src/store/postgres/token-index.js';
import { SqliteTokenIndex } from '../../src/store/sqlite/token-index.js';
import { TokenFilter } from '../../src/store/token-filter.js';
import type { TokenIndex } from '../../src/store/token-index.js';
import type { Database } from '../../src/store/tables.js';
import { createTestDatabase, postgresCanRun } from '../helpers/postgres.js';
import { tempDir } from '../helpers/test-node.js';

const dirs: string[] = [];
const drops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const drop of drops.splice(0)) await drop();
});

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/**
 * A small pool, so operations collide: two tokens share their first 8 bytes (one fingerprint in
 * the set; SQLite must tell them apart) and one has an all-zero fingerprint (the empty-slot mark).
 */
const TOKENS: Uint8Array[] = [
  Uint8Array.from({ length: 16 }, (_, i) => i + 1),
  Uint8Array.from({ length: 16 }, (_, i) => (i < 8 ? i + 1 : 0xf0 + i - 8)),
  new Uint8Array(16),
  Uint8Array.from({ length: 16 }, (_, i) => (i < 8 ? 0 : 1)),
  Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i),
  Uint8Array.from({ length: 16 }, (_, i) => 0x30 + 7 * i),
];
const TYPES: IdentifierType[] = ['phone', 'email'];
const START = Date.parse('2025-06-15T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const tokenRef = fc.record({ token: fc.nat(TOKENS.length - 1), type: fc.constantFrom(...TYPES), epoch: fc.constantFrom(1, 2) });
const op = fc.oneof(
  fc.record({ op: fc.constant('list' as const), via: fc.constantFrom('own', 'other'), tokens: fc.array(tokenRef, { minLength: 1, maxLength: 3 }), ttlMin: fc.integer({ min: 1, max: 60 }) }),
  fc.record({ op: fc.constant('rollback' as const), tokens: fc.array(tokenRef, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('retract' as const), via: fc.constantFrom('own', 'other'), pick: fc.nat() }),
  fc.record({ op: fc.constant('tick' as const), minutes: fc.integer({ min: 1, max: 20 }) }),
  fc.record({
    op: fc.constant('check' as const),
    queries: fc.array(fc.record({ token: fc.nat(TOKENS.length - 1), type: fc.constantFrom(...TYPES), epoch: fc.option(fc.constantFrom(1, 2), { nil: undefined }) }), { minLength: 1, maxLength: 4 }),
    // As an HTTP check: the request arrives, its API-key check reads data_version (and catches
    // the set up), then the check runs without a probe of its own.
    authenticated: fc.boolean(),
  }),
);

function listing(origin: string, seq: number, now: number, ttlMin: number, tokens: { token: number; type: IdentifierType; epoch: number }[]): ListingEntry {
  const unique = new Map(tokens.map((t) => [`${t.token}/${t.type}/${t.epoch}`, t]));
  return {
    v: 1,
    kind: 'listing',
    origin,
    seq,
    time: iso(now),
    category: 'fraud',
    severity: 'severe',
    bannedAt: iso(now),
    banUntil: null,
    expiresAt: iso(now + ttlMin * 60_000),
    tokens: [...unique.values()].map((t) => ({ type: t.type, epoch: t.epoch, token: hex(TOKENS[t.token]!) })),
  };
}

const summary = (rows: readonly TokenMatchRow[]) =>
  [...new Set(rows.map((r) => `${r.listing.id}|${r.type}|${r.epoch}|${hex(r.token)}|${r.listing.status}|${r.listing.expires_at}|${r.listing.seq}`))].sort();

type EngineName = 'sqlite' | 'postgres';

/** A fresh database on the engine, and a way to open it again (a second connection or pool: another process). */
async function freshDatabase(engine: EngineName): Promise<{ handle: DatabaseHandle; reopen(): Promise<DatabaseHandle> }> {
  if (engine === 'sqlite') {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir, 'node.db');
    const reopen = () => openDatabase({ driver: 'sqlite', file });
    return { handle: await reopen(), reopen };
  }
  const database = await createTestDatabase();
  drops.push(() => database.drop());
  const reopen = () => openDatabase({ driver: 'postgres', url: database.url, poolSize: 4, connectTimeoutMs: 5000 });
  return { handle: await reopen(), reopen };
}

async function openPair(engine: EngineName): Promise<{ own: DatabaseHandle; other: DatabaseHandle; dir: string; close(): Promise<void> }> {
  const { handle: own, reopen } = await freshDatabase(engine);
  const other = await reopen();
  const dir = tempDir();
  dirs.push(dir);
  const close = async () => {
    await own.close();
    await other.close();
  };
  return { own, other, dir, close };
}

/**
 * The engine's token index over `handle`, and the probe an HTTP request's API-key check makes
 * before the check (SQLite's `dataVersion`, which catches the filter up; nothing on PostgreSQL).
 */
function indexOn(handle: DatabaseHandle, snapshotFile?: string): { index: TokenIndex; probe(): void } {
  if (handle.engine.name === 'sqlite') {
    const index = new SqliteTokenIndex(handle.engine.sqlite, { snapshotFile });
    return { index, probe: () => index.dataVersion() };
  }
  return { index: new PostgresTokenIndex(handle.db, handle.engine.pool, { snapshotFile }), probe: () => {} };
}

const ENGINES = [
  { engine: 'sqlite' as const, runs: 60, canRun: true },
  { engine: 'postgres' as const, runs: 15, canRun: postgresCanRun('the token index on PostgreSQL (check-store.test.ts)') },
];

describe.each(ENGINES)('the token index on $engine', ({ engine, runs, canRun }) => {
  describe.runIf(canRun)('answers as the Kysely query does', () => {
    it('on random listings, retractions, expiry, writes from another connection and rolled-back transactions', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 6 }), async (ops, warmAfter) => {
          const { own, other, close } = await openPair(engine);
          const { index: store, probe } = indexOn(own);
          const seqs: Record<string, number> = { own: 0, other: 0 };
          const listed: { origin: string; seq: number; via: 'own' | 'other' }[] = [];
          let now = START;
          try {
            for (const [i, o] of ops.entries()) {
              // Warm up part-way, so some listings come before the set was built and some after.
              if (i === warmAfter) expect(await store.warmUp()).toBe(true);
              if (o.op === 'list') {
                const handle = o.via === 'own' ? own : other;
                const seq = ++seqs[o.via]!;
                await handle.db.transaction().execute((trx) => new ListingWriter(trx).insertListing(listing(o.via, seq, now, o.ttlMin, o.tokens), null));
                listed.push({ origin: o.via, seq, via: o.via });
              } else if (o.op === 'rollback') {
                const seq = seqs['own']! + 1;
                const queries: TokenQuery[] = o.tokens.map((t) => ({ type: t.type, token: TOKENS[t.token]! }));
                await expect(
                  own.db.transaction().execute(async (trx) => {
                    await new ListingWriter(trx).insertListing(listing('own', seq, now, 60, o.tokens), null);
                    const fast = await store.match(queries, iso(now));
                    if (engine === 'sqlite') {
                      // In flight on this connection: the hot path must step aside, not read uncommitted rows.
                      expect(fast).toBeUndefined();
                    } else if (store.warm) {
                      // Another pooled connection: the uncommitted rows are not visible to the check.
                      expect(summary(fast!)).toEqual(summary(await new ListingReader(other.db).matchTokens(queries, iso(now))));
                    }
                    throw new Error('roll back');
                  }),
                ).rejects.toThrow('roll back');
              } else if (o.op === 'retract' && listed.length > 0) {
                const target = listed[o.pick % listed.length]!;
                const handle = target.via === 'own' ? own : other;
                const seq = ++seqs[target.via]!;
                await handle.db
                  .transaction()
                  .execute((trx) => new ListingWriter(trx).applyRetraction({ v: 1, kind: 'retraction', origin: target.origin, seq, time: iso(now), target: target.seq, reason: 'appeal_upheld' }));
              } else if (o.op === 'tick') {
                now += o.minutes * 60_000;
              } else if (o.op === 'check') {
                const queries: TokenQuery[] = o.queries.map((q) => ({ type: q.type, token: TOKENS[q.token]!, ...(q.epoch === undefined ? {} : { epoch: q.epoch }) }));
                const expected = await new ListingReader(own.db).matchTokens(queries, iso(now));
                const receivedAt = performance.now();
                if (o.authenticated) probe();
                const fast = await (o.authenticated ? store.match(queries, iso(now), receivedAt) : store.match(queries, iso(now)));
                if (!store.warm) {
                  expect(fast).toBeUndefined();
                } else {
                  expect(fast).toBeDefined();
                  expect(summary(fast!)).toEqual(summary(expected));
                }
              }
            }
          } finally {
            store.close();
            await close();
          }
        }),
        { numRuns: runs },
      );
    });

    it('sees a token another connection (another process) committed at the next check', async () => {
      const { own, other, close } = await openPair(engine);
      const { index } = indexOn(own);
      try {
        expect(await index.warmUp()).toBe(true);
        const query: TokenQuery[] = [{ type: 'phone', token: TOKENS[4]! }];
        expect(await index.match(query, iso(START))).toEqual([]);
        await other.db.transaction().execute((trx) => new ListingWriter(trx).insertListing(listing('other', 1, START, 60, [{ token: 4, type: 'phone', epoch: 1 }]), null));
        const rows = await index.match(query, iso(START), performance.now());
        expect((rows ?? []).map((r) => r.listing.id)).toEqual(['other:1']);
      } finally {
        index.close();
        await close();
      }
    });
  });

  describe.runIf(canRun)('the token filter snapshot', () => {
    async function listSome(handle: DatabaseHandle, origin: string, from: number, count: number, tokens: (k: number) => Uint8Array): Promise<void> {
      await handle.db.transaction().execute(async (trx) => {
        for (let k = from; k < from + count; k++) {
          const entry = listing(origin, k + 1, START, 600, []);
          entry.tokens = [{ type: 'phone', epoch: 1, token: hex(tokens(k)) }];
          await new ListingWriter(trx).insertListing(entry, null);
        }
      });
    }
    const tokenOf = (k: number, salt = 0) => Uint8Array.from({ length: 16 }, (_, i) => (k * 31 + i * 7 + salt * 101 + (i === 0 ? k >> 8 : 0)) & 0xff);
    const expectSame = async (store: TokenIndex, handle: DatabaseHandle, queries: TokenQuery[]) => {
      const expected = await new ListingReader(handle.db).matchTokens(queries, iso(START));
      expect(summary((await store.match(queries, iso(START)))!)).toEqual(summary(expected));
      return expected.length;
    };

    it('is written after a warm-up from the database, read by the next start, and caught up past its watermark', async () => {
      const { own, dir, close } = await openPair(engine);
      const file = join(dir, 'tokens.snapshot');
      try {
        await listSome(own, 'own', 0, 300, (k) => tokenOf(k));
        const first = indexOn(own, file).index;
        expect(await first.warmUp()).toBe(true);
        expect(first.stats.source).toBe(engine);
        await first.saveSnapshot();
        first.close();

        await listSome(own, 'own', 300, 50, (k) => tokenOf(k));
        const second = indexOn(own, file).index;
        expect(await second.warmUp()).toBe(true);
        expect(second.stats.source).toBe('snapshot');
        // Rows before and after the snapshot's watermark, and tokens never listed.
        const queries: TokenQuery[] = [0, 150, 299, 300, 349, 400, 1000].map((k) => ({ type: 'phone', token: tokenOf(k) }));
        for (const q of queries) await expectSame(second, own, [q]);
        expect(await expectSame(second, own, queries)).toBe(5);
        second.close();
      } finally {
        await close();
      }
    });

    it('is not used for a database with another history, nor one it is ahead of, nor when damaged', async () => {
      const { own, dir, close } = await openPair(engine);
      const file = join(dir, 'tokens.snapshot');
      try {
        await listSome(own, 'own', 0, 100, (k) => tokenOf(k));
        const first = indexOn(own, file).index;
        await first.warmUp();
        await first.saveSnapshot();
        first.close();
        const snapshot = readFileSync(file);

        // Another database with as many rows but other tokens (a different history).
        const other = (await freshDatabase(engine)).handle;
        try {
          await listSome(other, 'own', 0, 100, (k) => tokenOf(k, 1));
          const store = indexOn(other, file).index;
          await store.warmUp();
          expect(store.stats.source).toBe(engine);
          expect(await expectSame(store, other, [{ type: 'phone', token: tokenOf(5, 1) }])).toBe(1);
          store.close();
        } finally {
          await other.close();
        }

        // A database with fewer rows than the snapshot's watermark (restored from an older backup).
        writeFileSync(file, snapshot);
        const older = (await freshDatabase(engine)).handle;
        try {
          await listSome(older, 'own', 0, 50, (k) => tokenOf(k));
          const store = indexOn(older, file).index;
          await store.warmUp();
          expect(store.stats.source).toBe(engine);
          store.close();
        } finally {
          await older.close();
        }

        // A truncated file.
        writeFileSync(file, snapshot.subarray(0, snapshot.length - 8));
        const store = indexOn(own, file).index;
        await store.warmUp();
        expect(store.stats.source).toBe(engine);
        expect(await expectSame(store, own, [{ type: 'phone', token: tokenOf(7) }])).toBe(1);
        store.close();
      } finally {
        await close();
      }
    });
  });
});

describe('on SQLite, the transactions of its own connection', () => {
  it('waits for a transaction open on its connection before warming up, and stops when closed', async () => {
    const { own, close } = await openPair('sqlite');
    try {
      const store = new SqliteTokenIndex(own.sqlite);
      own.sqlite.exec('BEGIN');
      const warming = store.warmUp();
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(store.warm).toBe(false);
      expect(store.match([{ type: 'phone', token: TOKENS[0]! }], iso(START))).toBeUndefined();
      own.sqlite.exec('COMMIT');
      expect(await warming).toBe(true);
      expect(store.warm).toBe(true);
      expect(store.match([{ type: 'phone', token: TOKENS[0]! }], iso(START))).toEqual([]);
      store.close();
      expect(store.warm).toBe(false);
      expect(await store.warmUp()).toBe(false);
    } finally {
      await close();
    }
  });
});

describe('on SQLite, a check after the API-key check of its request', () => {
  it("uses that check's catch-up, and probes itself when the last catch-up came before the request", async () => {
    const { own, other, close } = await openPair('sqlite');
    const store = new SqliteTokenIndex(own.sqlite);
    const list = (seq: number, token: number) =>
      other.db.transaction().execute((trx) => new ListingWriter(trx).insertListing(listing('other', seq, START, 60, [{ token, type: 'phone', epoch: 1 }]), null));
    const ids = (rows: TokenMatchRow[] | undefined) => (rows ?? []).map((r) => r.listing.id);
    try {
      expect(await store.warmUp()).toBe(true);
      // Committed by another connection before the request arrives: its API-key check sees it.
      await list(1, 0);
      const first = performance.now();
      const version = store.dataVersion();
      expect(ids(store.match([{ type: 'phone', token: TOKENS[0]! }], iso(START), first))).toEqual(['other:1']);
      // Committed after that catch-up: a request arriving later must not be served by it.
      await list(2, 4);
      expect(store.dataVersion()).not.toBe(version);
      await list(3, 5);
      const later = performance.now();
      expect(ids(store.match([{ type: 'phone', token: TOKENS[5]! }], iso(START), later))).toEqual(['other:3']);
    } finally {
      store.close();
      await close();
    }
  });
});

describe.runIf(postgresCanRun('the token index on PostgreSQL (check-store.test.ts)'))('on PostgreSQL, seq as the watermark and an unavailable server', () => {
  it('cannot skip a row committed late: a second writer waits for the first to commit before it draws a seq', async () => {
    const { own, other, close } = await openPair('postgres');
    const { index } = indexOn(own);
    const query = (token: number): TokenQuery[] => [{ type: 'phone', token: TOKENS[token]! }];
    const ids = async (token: number) => ((await index.match(query(token), iso(START), performance.now())) ?? []).map((r) => r.listing.id);
    const pool = own.engine.name === 'postgres' ? own.engine.pool : undefined;
    const waitingForLock = async () =>
      Number((await pool!.query<{ n: number }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'")).rows[0]!.n);
    try {
      expect(await index.warmUp()).toBe(true);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let firstInserted!: () => void;
      const inserted = new Promise<void>((resolve) => (firstInserted = resolve));
      // The first writer draws its seq and stays open.
      const first = own.db.transaction().execute(async (trx) => {
        await new ListingWriter(trx).insertListing(listing('own', 1, START, 60, [{ token: 0, type: 'phone', epoch: 1 }]), null);
        firstInserted();
        await held;
      });
      await inserted;
      // The second writer, from another pool (another process), would draw a higher seq and commit
      // first if it could; it cannot: it waits for the writer lock the first one holds.
      let secondDone = false;
      const second = other.db
        .transaction()
        .execute((trx) => new ListingWriter(trx).insertListing(listing('other', 1, START, 60, [{ token: 5, type: 'phone', epoch: 1 }]), null))
        .then(() => {
          secondDone = true;
        });
      const deadline = Date.now() + 10_000;
      while ((await waitingForLock()) < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await waitingForLock()).toBe(1);
      expect(secondDone).toBe(false);
      // Nothing committed yet: the check sees neither, and its watermark stays below the first seq.
      expect(await ids(0)).toEqual([]);
      expect(await ids(5)).toEqual([]);
      release();
      await first;
      await second;
      expect(await ids(0)).toEqual(['own:1']);
      expect(await ids(5)).toEqual(['other:1']);
      const seqs = await pool!.query<{ listing_id: string; seq: number }>('SELECT listing_id, seq FROM listing_tokens ORDER BY seq');
      expect(seqs.rows.map((r) => r.listing_id)).toEqual(['own:1', 'other:1']);
    } finally {
      index.close();
      await close();
    }
  });
  it('waits for an unavailable server instead of giving up the warm-up, until it is closed', async () => {
    // Nothing listens on port 1: every attempt is refused, which is "unavailable", not a failure.
    const pool = openPostgresPool({ url: 'postgres://jointban@127.0.0.1:1/none', poolSize: 1, connectTimeoutMs: 1000 }, () => {});
    const db = new Kysely<Database>({ dialect: postgresDialect(pool, false) });
    const index = new PostgresTokenIndex(db, pool);
    try {
      let settled = false;
      const warming = index.warmUp().finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(settled).toBe(false);
      index.close();
      expect(await warming).toBe(false);
    } finally {
      await db.destroy();
    }
  });
});

describe('TokenFilter', () => {
  it('never forgets a token it was given, across growth', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { maxLength: 3000 }), fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { maxLength: 50 }), (added, probes) => {
        const set = new TokenFilter();
        const model = new Set<string>();
        for (const t of added) {
          set.add(t);
          model.add(hex(t.subarray(0, 8)));
        }
        expect(set.size).toBe(model.size);
        for (const t of added) expect(set.mayContain(t)).toBe(true);
        // Random 16-byte probes: a fingerprint collision with 3000 entries is a 2^-40 event.
        for (const p of probes) expect(set.mayContain(p)).toBe(model.has(hex(p.subarray(0, 8))));
        expect(set.mayContain(new Uint8Array(16))).toBe(model.has('0000000000000000'));
      }),
      { numRuns: 50 },
    );
  });
});
