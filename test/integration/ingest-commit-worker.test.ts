/**
 * The ingest-commit worker (federation/worker-committer.ts) against its reference twin, the
 * in-process committer: the same proven slices committed both ways leave the same rows in every
 * table a sync writes. The worker runs from the compiled build (the vitest global setup compiles
 * it), over its own connection: the main connection's data_version shows another connection wrote.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeEntry } from '../../src/log/entry.js';
import { leafHash } from '../../src/log/merkle.js';
import { inProcessCommitter, type ProvenSlice, type SliceCommitter } from '../../src/federation/ingest-commit.js';
import { WorkerCommitter } from '../../src/federation/worker-committer.js';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { LogReader } from '../../src/store/log-repository.js';
import { email, listingBody, phone } from '../helpers/fixtures.js';
import { createTestNode, tempDir, type TestNode } from '../helpers/test-node.js';

const WORKER = new URL('../../dist/src/federation/ingest-commit-worker.js', import.meta.url);
const TABLES = ['log_entries', 'tree_nodes', 'listings', 'listing_tokens', 'checkpoints'];

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function origin(): Promise<{ node: TestNode; slices: ProvenSlice[] }> {
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
  const entries = stored.map(({ bytes }) => {
    const decoded = decodeEntry(bytes);
    if (!decoded.ok) throw new Error('an entry of the origin does not decode');
    return { entry: decoded.entry, bytes, leafHash: leafHash(bytes) };
  });
  const at = '2026-12-07T12:00:00.000Z';
  // Three slices, the last with a checkpoint, as ingest.ts cuts a page; a retraction crosses a slice boundary.
  return {
    node,
    slices: [
      { origin: 'alpha', entries: entries.slice(0, 5), at },
      { origin: 'alpha', entries: entries.slice(5, 13), at },
      { origin: 'alpha', entries: entries.slice(13), checkpoint: { size: 14, root: new Uint8Array(32).fill(7), note: 'a checkpoint note\n' }, at },
    ],
  };
}

async function mirror(): Promise<DatabaseHandle> {
  const dir = tempDir();
  const handle = await openDatabase({ driver: 'sqlite', file: join(dir, 'mirror.db') });
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => handle.close());
  return handle;
}

function rows(handle: DatabaseHandle): Record<string, unknown[]> {
  return Object.fromEntries(TABLES.map((t) => [t, handle.sqlite.prepare(`SELECT * FROM ${t} ORDER BY 1, 2, 3`).all()]));
}

async function commitAll(committer: SliceCommitter, slices: ProvenSlice[]): Promise<void> {
  for (const slice of slices) await committer.commit(slice);
}

describe('the ingest-commit worker', () => {
  it('leaves the same rows as the in-process committer, written over its own connection', async () => {
    const { slices } = await origin();
    const reference = await mirror();
    await commitAll(inProcessCommitter(reference.db), slices);

    const viaWorker = await mirror();
    const committer = WorkerCommitter.create(viaWorker.db, pino({ level: 'silent' }), WORKER);
    expect(committer).toBeInstanceOf(WorkerCommitter);
    cleanup.push(() => committer.close());
    const versionBefore = viaWorker.sqlite.pragma('data_version', { simple: true });
    await commitAll(committer, slices);
    expect(viaWorker.sqlite.pragma('data_version', { simple: true }), 'another connection (the worker) committed').not.toBe(versionBefore);

    const expected = rows(reference);
    expect(expected['log_entries']).toHaveLength(14);
    expect((expected['listings'] as { status: string }[]).filter((l) => l.status === 'retracted')).toHaveLength(2);
    expect(rows(viaWorker)).toEqual(expected);
  });

  it('refuses a slice the database refuses (a seq already held), and commits the next one', async () => {
    const { slices } = await origin();
    const handle = await mirror();
    const committer = WorkerCommitter.create(handle.db, pino({ level: 'silent' }), WORKER);
    cleanup.push(() => committer.close());
    await committer.commit(slices[0]!);
    await expect(committer.commit(slices[0]!)).rejects.toThrow(/committing a proven slice failed/);
    await committer.commit(slices[1]!);
    expect(handle.sqlite.prepare('SELECT count(*) AS n FROM log_entries').get()).toEqual({ n: 13 });
  });

  // Linux keeps a nice value per thread (/proc/self/task/<tid>/stat, field 19): the worker lowers
  // its own, and the thread that answers checks keeps the process's.
  it.runIf(existsSync('/proc/self/task'))('runs its commits at a lower CPU priority than the thread that answers checks', async () => {
    const niceOf = (task: string) => Number(readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const before = new Set(readdirSync('/proc/self/task'));
    const { slices } = await origin();
    const handle = await mirror();
    const committer = WorkerCommitter.create(handle.db, pino({ level: 'silent' }), WORKER);
    cleanup.push(() => committer.close());
    await committer.commit(slices[0]!);
    const niced = readdirSync('/proc/self/task').filter((task) => !before.has(task) && niceOf(task) === 10);
    expect(niced.length, 'a new thread at nice 10 (the commit worker)').toBeGreaterThanOrEqual(1);
    expect(niceOf(String(process.pid)), 'the main thread').toBe(0);
  });

  it('commits on the calling thread where there is no worker script', async () => {
    const handle = await mirror();
    const committer = WorkerCommitter.create(handle.db, pino({ level: 'silent' }), new URL('file:///nonexistent/ingest-commit-worker.js'));
    expect(committer).not.toBeInstanceOf(WorkerCommitter);
    const { slices } = await origin();
    await commitAll(committer, slices);
    expect(handle.sqlite.prepare('SELECT count(*) AS n FROM log_entries').get()).toEqual({ n: 14 });
  });
});
