/**
 * Small stores for the verifier's tests: a database on the run's engine (a temp SQLite file, or a
 * fresh PostgreSQL database under JOINTBAN_TEST_ENGINE=postgres: test/helpers/engine.ts) holding
 * logs written exactly as a node writes them (LogWriter and ListingWriter in one transaction,
 * checkpoints signed with the member's key and cosigned by the witness), plus raw SQL on the
 * engine's own connection to damage them with, as an attacker or a faulty disk would.
 */
import { deepStrictEqual, strictEqual } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyStore, type OriginVerification, type VerifyProgress, type VerifyStoreOptions } from '../../../src/audit/verify.js';
import { toBase64 } from '../../../src/crypto/encoding.js';
import { generateEd25519KeyPair, type Ed25519KeyPair } from '../../../src/crypto/index.js';
import { witnessName } from '../../../src/roster/witness.js';
import { cosignCheckpoint, encodeEntry, logOrigin, signCheckpoint, type ListingEntry, type LogEntry } from '../../../src/log/index.js';
import { addMember, createDraft, rosterFromDraft, type Roster, type RosterDraft } from '../../../src/roster/index.js';
import { CheckpointRepository } from '../../../src/store/checkpoint-repository.js';
import { openDatabase, type DatabaseHandle } from '../../../src/store/database.js';
import { ListingWriter } from '../../../src/store/listing-repository.js';
import { LogReader, LogWriter } from '../../../src/store/log-repository.js';
import { rootAt } from '../../../src/store/proofs.js';
import { testEngine } from '../../helpers/engine.js';
import { listing } from '../../helpers/log-entries.js';
import { createTestDatabase } from '../../helpers/postgres.js';
import { numbered } from '../../helpers/store-copy.js';

export { listing, retraction, timeOf } from '../../helpers/log-entries.js';

export const FEDERATION = 'test.jointban.example';
/** The worker thread's script as the build (test/global-setup.ts, before the suite) wrote it: workers run JavaScript. */
export const WORKER_SCRIPT = new URL('../../../dist/src/audit/verify-worker.js', import.meta.url);
export const SINCE = '2024-06-01T00:00:00.000Z';
export const MEMBERS = ['alpha', 'beta'] as const;

export interface TestStore {
  handle: DatabaseHandle;
  keys: Record<string, Ed25519KeyPair>;
  witnessKey: Ed25519KeyPair;
  /** The roster with the association and both members, active. */
  roster: Roster;
  draft: RosterDraft;
  /** Appends entries to a log with their listings rows, then (by default) a cosigned checkpoint. */
  append(origin: string, entries: LogEntry[], options?: { checkpoint?: boolean; cosign?: boolean }): Promise<void>;
  /** Signs and stores a checkpoint of the log as it is now. */
  checkpoint(origin: string, options?: { cosign?: boolean }): Promise<string>;
  /** A signed checkpoint note for any size and root, with the origin's real key. */
  sign(origin: string, size: number, root: Uint8Array): string;
  /**
   * Runs a statement on the engine's own connection, outside the node's code: `?` placeholders on
   * both engines (numbered for PostgreSQL here); blobs as Uint8Array parameters.
   */
  sql(statement: string, ...params: unknown[]): Promise<void>;
  /** The rows of a query, as `sql` runs it. */
  query<R>(statement: string, ...params: unknown[]): Promise<R[]>;
  /**
   * Verifies in one thread, and again on two worker threads with logs cut into chunks of two
   * leaves: the two must return the same results, and the workers must have found a log intact
   * exactly when the one thread did (they fall back to it otherwise, so equal results alone would
   * not show that). Every test of the verifier is thereby also a test of its parallel walk.
   */
  verify(options?: Partial<VerifyStoreOptions>, onProgress?: (p: VerifyProgress) => void): Promise<OriginVerification[]>;
  close(): Promise<void>;
}

/** The store's database on the run's engine, raw SQL on its own connection, and how to remove it. */
async function openStoreDatabase(): Promise<{ handle: DatabaseHandle; query<R>(statement: string, params: unknown[]): Promise<R[]>; remove(): Promise<void> }> {
  if (testEngine() === 'postgres') {
    const database = await createTestDatabase();
    const handle = await openDatabase({ driver: 'postgres', url: database.url, poolSize: 4, connectTimeoutMs: 5000 });
    const { engine } = handle;
    if (engine.name !== 'postgres') throw new Error('expected a PostgreSQL handle');
    return {
      handle,
      query: async <R>(statement: string, params: unknown[]) => (await engine.pool.query(numbered(statement), params)).rows as R[],
      remove: () => database.drop(),
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'jointban-verify-unit-'));
  const handle = await openDatabase({ driver: 'sqlite', file: join(dir, 'store.db') });
  return {
    handle,
    query: async <R>(statement: string, params: unknown[]) => {
      const prepared = handle.sqlite.prepare(statement);
      if (prepared.reader) return prepared.all(...params) as R[];
      prepared.run(...params);
      return [];
    },
    remove: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function createStore(): Promise<TestStore> {
  const { handle, query, remove } = await openStoreDatabase();
  const witnessKey = generateEd25519KeyPair();
  const keys: Record<string, Ed25519KeyPair> = Object.fromEntries(MEMBERS.map((m) => [m, generateEd25519KeyPair()]));
  const endpoint = (id: string) => `https://${id}.test.example`;
  const unwrap = <T>(r: ({ ok: true } & T) | { ok: false; error: string }): T => {
    if (!r.ok) throw new Error(r.error);
    return r;
  };
  let { draft } = unwrap(createDraft(FEDERATION, { id: 'assoc', name: 'Association', publicKey: toBase64(witnessKey.publicKey), endpoint: endpoint('assoc') }, SINCE));
  for (const m of MEMBERS) ({ draft } = unwrap(addMember(draft, { id: m, name: m, publicKey: toBase64(keys[m]!.publicKey), endpoint: endpoint(m) }, SINCE)));
  const roster = unwrap(rosterFromDraft(draft, 1, SINCE)).roster;
  keys['assoc'] = witnessKey;

  const sign = (origin: string, size: number, root: Uint8Array) => {
    const name = logOrigin(FEDERATION, origin);
    return signCheckpoint({ origin: name, size, root }, { name, secretKey: keys[origin]!.secretKey });
  };
  const store: TestStore = {
    handle,
    keys,
    witnessKey,
    roster,
    draft,
    async append(origin, entries, options = {}) {
      await handle.db.transaction().execute(async (trx) => {
        await new LogWriter(trx).append(
          origin,
          entries.map((e) => ({ seq: e.seq, kind: e.kind, time: e.time, bytes: encodeEntry(e) })),
        );
        const listings = new ListingWriter(trx);
        for (const e of entries) {
          if (e.kind === 'listing') await listings.insertListing(e, null);
          else await listings.applyRetraction(e);
        }
      });
      if (options.checkpoint !== false) await store.checkpoint(origin, { cosign: options.cosign ?? true });
    },
    async checkpoint(origin, options = {}) {
      const reader = new LogReader(handle.db);
      const size = await reader.size(origin);
      const root = await rootAt(reader, origin, size);
      let note = sign(origin, size, root);
      if (options.cosign ?? true) note += cosignCheckpoint(note, { name: witnessName(FEDERATION), secretKey: witnessKey.secretKey }, 1_750_000_000 + size);
      await new CheckpointRepository(handle.db).insert({ origin, size, root, note }, new Date().toISOString());
      return note;
    },
    sign,
    async sql(statement, ...params) {
      await query(statement, params);
    },
    query: (statement, ...params) => query(statement, params),
    async verify(options = {}, onProgress) {
      const base: VerifyStoreOptions = { federation: FEDERATION, roster, witness: { name: witnessName(FEDERATION), publicKey: witnessKey.publicKey }, ...options };
      const single = await verifyStore(handle, { ...base, workers: 0 }, onProgress);
      const outcomes = new Map<string, string>();
      const parallel = await verifyStore(handle, {
        ...base,
        workers: 2,
        chunkLevel: 1,
        workerThreshold: 0,
        workerScript: WORKER_SCRIPT,
        onChunked: (origin, outcome) => outcomes.set(origin, outcome),
      });
      deepStrictEqual(parallel, single);
      for (const r of single) {
        const outcome = outcomes.get(r.origin);
        if (outcome !== undefined) strictEqual(outcome, r.ok ? 'verified' : 'failed', `the workers' verdict on ${r.origin}`);
      }
      return single;
    },
    async close() {
      await handle.close();
      await remove();
    },
  };
  return store;
}

/** `count` listings of `origin` from seq `from` on. */
export function listings(origin: string, from: number, count: number): ListingEntry[] {
  return Array.from({ length: count }, (_, i) => listing(origin, from + i));
}

/** The kinds and positions of the failures of one origin's result. */
export function failuresOf(results: OriginVerification[], origin: string): { kind: string; index?: number; size?: number }[] {
  const r = results.find((x) => x.origin === origin);
  if (!r) throw new Error(`no result for ${origin}`);
  return r.failures.map((f) => ({ kind: f.kind, ...(f.index !== undefined ? { index: f.index } : {}), ...(f.size !== undefined ? { size: f.size } : {}) }));
}
