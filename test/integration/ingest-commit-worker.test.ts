/**
 * The ingest worker (federation/worker-committer.ts) against its reference twin, the in-process
 * pipeline: the same page bodies prepared and committed both ways give the same verdicts and leave
 * the same rows in every table a sync writes. The worker runs from the compiled build (the vitest
 * global setup compiles it), over its own connection: on SQLite the main connection's data_version
 * shows another connection wrote; on PostgreSQL (the integration-postgres project) the server lists
 * the worker's own session while it runs, and none once the pipeline is closed.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/crypto/encoding.js';
import { inProcessPipeline, type IngestPipeline, type PreparedPage } from '../../src/federation/ingest-commit.js';
import { WorkerPipeline } from '../../src/federation/worker-committer.js';
import type { Roster } from '../../src/roster/index.js';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { LogReader } from '../../src/store/log-repository.js';
import { testEngine } from '../helpers/engine.js';
import { waitFor } from '../helpers/federation.js';
import { email, listingBody, phone } from '../helpers/fixtures.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { createTestNode, tempDir, type TestNode } from '../helpers/test-node.js';

const WORKER = new URL('../../dist/src/federation/ingest-commit-worker.js', import.meta.url);
const TABLES = ['log_entries', 'tree_nodes', 'listings', 'listing_tokens', 'checkpoints'];

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A roster naming the origin: entries are validated against it on either thread. */
function rosterOf(status: 'active' | 'suspended'): Roster {
  const alpha = { id: 'alpha', name: 'Alpha', role: 'member' as const, publicKey: toBase64(new Uint8Array(32).fill(1)), endpoint: 'https://alpha.example', since: '2025-01-01T00:00:00.000Z' };
  return {
    federation: 'test-federation',
    version: 1,
    issuedAt: '2025-01-01T00:00:00.000Z',
    members: [status === 'active' ? { ...alpha, status } : { ...alpha, status, suspendedAt: '2025-06-01T00:00:00.000Z' }],
  };
}

interface Origin {
  node: TestNode;
  roster: Roster;
  /** The origin's 14 entries as stored (12 listings, 2 retractions). */
  entries: Uint8Array[];
}

async function origin(): Promise<Origin> {
  const node = await createTestNode({ member: 'alpha' });
  cleanup.push(() => node.stop());
  const write = await node.key('write');
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const res = await node.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [phone(`1380013${String(8000 + i)}`), email(`u${i}@example.com`)] }) });
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { id: string }).id);
  }
  for (const id of [ids[2]!, ids[7]!]) {
    const res = await node.request('POST', `/v1/listings/${id}/retract`, { key: write, body: { reason: 'appeal_upheld' } });
    expect(res.status).toBe(200);
  }
  const stored = await new LogReader(node.node.database.db).entries('alpha', 1, 14);
  expect(stored).toHaveLength(14);
  return { node, roster: rosterOf('active'), entries: stored.map(({ bytes }) => bytes) };
}

/** A page body as a peer serves it. */
const body = (entries: Uint8Array[]) => new TextEncoder().encode(JSON.stringify({ entries: entries.map(toBase64) }));

const AT = '2026-12-07T12:00:00.000Z';

/**
 * Three pages, as ingest.ts asks for them; the second is committed in two slices and a retraction
 * crosses a slice boundary; the last completes the checkpoint. Returns each page's answer.
 */
async function ingestAll(pipeline: IngestPipeline, { roster, entries }: Origin): Promise<PreparedPage[]> {
  const answers: PreparedPage[] = [];
  const pages: [number, number, number[]][] = [
    [0, 5, [5]],
    [5, 13, [3, 8]],
    [13, 14, [1]],
  ];
  for (const [start, end, cuts] of pages) {
    const prepared = await pipeline.prepare({ origin: 'alpha', start, maxEntries: end - start, body: body(entries.slice(start, end)), roster });
    answers.push(prepared);
    if (!prepared.ok) continue;
    let from = 0;
    for (const to of cuts) {
      const checkpoint = end === 14 && to === cuts[cuts.length - 1] ? { size: 14, root: new Uint8Array(32).fill(7), note: 'a checkpoint note\n' } : undefined;
      await pipeline.commit(prepared.page, from, to, checkpoint, AT);
      from = to;
    }
    pipeline.release(prepared.page);
  }
  return answers;
}

/** What a prepare answered, without the handle (each pipeline numbers its pages its own way). */
const verdicts = (answers: PreparedPage[]) => answers.map((a) => (a.ok ? { count: a.count, good: a.good, verdict: a.verdict, leafHashes: Buffer.from(a.leafHashes).toString('hex') } : a));

/** An empty mirror on the run's engine: a SQLite file, or a fresh PostgreSQL database. */
async function mirror(): Promise<DatabaseHandle> {
  if (testEngine() === 'postgres') {
    const database = await createTestDatabase();
    cleanup.push(() => database.drop());
    const handle = await openDatabase({ driver: 'postgres', url: database.url, poolSize: 4, connectTimeoutMs: 5000 });
    cleanup.push(() => handle.close());
    return handle;
  }
  const dir = tempDir();
  const handle = await openDatabase({ driver: 'sqlite', file: join(dir, 'mirror.db') });
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => handle.close());
  return handle;
}

async function rows(handle: DatabaseHandle): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) out[t] = (await sql.raw(`SELECT * FROM ${t} ORDER BY 1, 2, 3`).execute(handle.db)).rows;
  return out;
}

async function entryCount(handle: DatabaseHandle): Promise<number> {
  const { n } = await handle.db
    .selectFrom('log_entries')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  return Number(n);
}

/**
 * Something that changes when another connection writes: SQLite's data_version; on PostgreSQL,
 * the other sessions on the database (the worker's), counted by the server.
 */
async function otherWriters(handle: DatabaseHandle): Promise<number> {
  if (handle.engine.name === 'sqlite') return Number(handle.sqlite.pragma('data_version', { simple: true }));
  const result = await sql<{ n: number }>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(handle.db);
  return Number(result.rows[0]!.n);
}

describe('the ingest worker', () => {
  it('gives the same answers and leaves the same rows as the in-process pipeline, written over its own connection', async () => {
    const source = await origin();
    const reference = await mirror();
    const expectedAnswers = verdicts(await ingestAll(inProcessPipeline(reference.db), source));

    const viaWorker = await mirror();
    const pipeline = WorkerPipeline.create(viaWorker.db, pino({ level: 'silent' }), WORKER);
    expect(pipeline).toBeInstanceOf(WorkerPipeline);
    cleanup.push(() => pipeline.close());
    const before = await otherWriters(viaWorker);
    expect(verdicts(await ingestAll(pipeline, source))).toEqual(expectedAnswers);
    expect(await otherWriters(viaWorker), 'another connection (the worker) committed').not.toBe(before);
    if (viaWorker.engine.name === 'postgres') {
      // The worker's pool goes with the pipeline: no session of it stays on the server.
      await pipeline.close();
      await waitFor(async () => (await otherWriters(viaWorker)) === 0, { message: "the worker's sessions to end" });
    }

    expect(expectedAnswers.every((a) => 'verdict' in a && a.verdict.ok)).toBe(true);
    const expected = await rows(reference);
    expect(expected['log_entries']).toHaveLength(14);
    expect((expected['listings'] as { status: string }[]).filter((l) => l.status === 'retracted')).toHaveLength(2);
    expect(await rows(viaWorker)).toEqual(expected);
  });

  it('gives the same verdict on bad pages: a body that is no page, an entry out of place, too many entries', async () => {
    const source = await origin();
    const cases = [
      { start: 0, maxEntries: 2, body: new TextEncoder().encode('{"entries": "not a list"}') },
      { start: 0, maxEntries: 2, body: new TextEncoder().encode('{"entries": ["@@@"]}') },
      { start: 0, maxEntries: 1, body: body(source.entries.slice(0, 2)) },
      // Entries 0-3 served as the page at 1: the first is at the wrong position.
      { start: 1, maxEntries: 4, body: body(source.entries.slice(0, 4)) },
      // A good prefix, then an entry out of place: the prefix is good, the verdict names the entry.
      { start: 0, maxEntries: 4, body: body([source.entries[0]!, source.entries[1]!, source.entries[3]!]) },
    ];
    const answer = async (pipeline: IngestPipeline) => {
      const out: unknown[] = [];
      for (const c of cases) out.push(verdicts([await pipeline.prepare({ origin: 'alpha', roster: source.roster, ...c, body: c.body.slice() })])[0]);
      // Good entries, but their origin was suspended before they were dated.
      out.push(verdicts([await pipeline.prepare({ origin: 'alpha', roster: rosterOf('suspended'), start: 0, maxEntries: 2, body: body(source.entries.slice(0, 2)) })])[0]);
      // A page of alpha's log served as beta's.
      out.push(verdicts([await pipeline.prepare({ origin: 'beta', roster: source.roster, start: 0, maxEntries: 2, body: body(source.entries.slice(0, 2)) })])[0]);
      return out;
    };
    const reference = await answer(inProcessPipeline((await mirror()).db));
    const viaWorker = await mirror();
    const pipeline = WorkerPipeline.create(viaWorker.db, pino({ level: 'silent' }), WORKER);
    cleanup.push(() => pipeline.close());
    expect(await answer(pipeline)).toEqual(reference);
    expect(reference.slice(0, 3)).toEqual([
      { ok: false, problem: 'expected 1 to 2 entries' },
      { ok: false, problem: 'entry 0 is not base64' },
      { ok: false, problem: 'expected 1 to 1 entries' },
    ]);
    expect(reference[3]).toMatchObject({ count: 4, good: 0, verdict: { ok: false, index: 1, kind: 'bad_entry' } });
    expect(reference[4]).toMatchObject({ count: 3, good: 2, verdict: { ok: false, index: 2, kind: 'bad_entry', entry: toBase64(source.entries[3]!) } });
    expect(reference[5]).toMatchObject({ count: 2, good: 0, verdict: { ok: false, index: 0, kind: 'suspended_member' } });
    expect(reference[6]).toMatchObject({ count: 2, good: 0, verdict: { ok: false, index: 0, kind: 'foreign_origin' } });
  });

  it('refuses a commit the database refuses (a seq already held), and commits the next one', async () => {
    const source = await origin();
    const handle = await mirror();
    const pipeline = WorkerPipeline.create(handle.db, pino({ level: 'silent' }), WORKER);
    cleanup.push(() => pipeline.close());
    const prepared = await pipeline.prepare({ origin: 'alpha', start: 0, maxEntries: 13, body: body(source.entries.slice(0, 13)), roster: source.roster });
    if (!prepared.ok) throw new Error(prepared.problem);
    await pipeline.commit(prepared.page, 0, 5, undefined, AT);
    await expect(pipeline.commit(prepared.page, 0, 5, undefined, AT)).rejects.toThrow(/the ingest worker failed/);
    await pipeline.commit(prepared.page, 5, 13, undefined, AT);
    expect(await entryCount(handle)).toBe(13);
  });

  // Linux keeps a nice value per thread (/proc/self/task/<tid>/stat, field 19): the worker lowers
  // its own, and the thread that answers checks keeps the process's.
  it.runIf(existsSync('/proc/self/task'))('runs its commits at a lower CPU priority than the thread that answers checks', async () => {
    const niceOf = (task: string) => Number(readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const before = new Set(readdirSync('/proc/self/task'));
    const source = await origin();
    const handle = await mirror();
    const pipeline = WorkerPipeline.create(handle.db, pino({ level: 'silent' }), WORKER);
    cleanup.push(() => pipeline.close());
    await ingestAll(pipeline, source);
    const niced = readdirSync('/proc/self/task').filter((task) => !before.has(task) && niceOf(task) === 10);
    expect(niced.length, 'a new thread at nice 10 (the commit worker)').toBeGreaterThanOrEqual(1);
    expect(niceOf(String(process.pid)), 'the main thread').toBe(0);
  });

  it('works on the calling thread where there is no worker script', async () => {
    const handle = await mirror();
    const pipeline = WorkerPipeline.create(handle.db, pino({ level: 'silent' }), new URL('file:///nonexistent/ingest-commit-worker.js'));
    expect(pipeline).not.toBeInstanceOf(WorkerPipeline);
    await ingestAll(pipeline, await origin());
    expect(await entryCount(handle)).toBe(14);
  });
});
