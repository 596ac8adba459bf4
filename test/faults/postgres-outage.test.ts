/**
 * A node on PostgreSQL when the database fails under it (issue 14, "Bad input and faults"), on a
 * cluster of this file's own (test/helpers/postgres-cluster.ts), so restarting it disturbs no other
 * test:
 * - the server restarted (`pg_ctl -m fast` stop, then start) while clients write and check: a
 *   request in flight or arriving while it is down fails with 503 `unavailable`, never a 500;
 *   /readyz says `database_unavailable` while it is down; the node reconnects by itself (writes
 *   succeed again with no restart of the node); every listing acknowledged with 201 is there;
 * - a statement that runs past `database.statementTimeoutMs` (another connection holds a lock the
 *   write needs) fails with 503 `unavailable` in bounded time, not a hang.
 * The writers' order of operations comes from the seeded PRNG (test/helpers/fault-seed.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { waitFor } from '../helpers/federation.js';
import { email, listingBody, phone, type CreatedListingBody } from '../helpers/fixtures.js';
import { faultSeed } from '../helpers/fault-seed.js';
import { suiteCanRun } from '../helpers/optional-suite.js';
import { adminQuery, databaseUrl, findPostgresBin, startTestCluster, type TestCluster } from '../helpers/postgres-cluster.js';
import { prng } from '../helpers/prng.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

const found = findPostgresBin();
const canRun = suiteCanRun({
  suite: 'the PostgreSQL outage fault tests',
  missing: found.bin === undefined ? `no initdb and pg_ctl in ${found.where}` : undefined,
  enable: 'apt-get install postgresql (or set JOINTBAN_POSTGRES_BIN to the directory of initdb and pg_ctl)',
});

const WRITERS = 3;

let cluster: TestCluster | undefined;
let databases = 0;
const cleanup: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  if (canRun) cluster = await startTestCluster(found.bin!);
});
afterAll(async () => {
  await cluster?.stop();
});
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A node on a fresh database of this file's cluster (migrated as the node starts). */
async function pgNode(database: Record<string, unknown> = {}): Promise<{ node: TestNode; url: string }> {
  const name = `outage_${++databases}`;
  await adminQuery(cluster!.url, `CREATE DATABASE ${name}`);
  const url = databaseUrl(cluster!.url, name);
  const node = await createTestNode({ extra: { database: { driver: 'postgres', url, poolSize: 4, connectTimeoutMs: 1_000, ...database } } });
  cleanup.push(() => node.stop());
  return { node, url };
}

interface Outcome {
  status: number;
  code?: string;
}

async function outcome(res: Response): Promise<Outcome> {
  const text = await res.text();
  if (res.status < 400) return { status: res.status };
  const body = JSON.parse(text) as { error?: { code?: string } };
  return { status: res.status, ...(body.error?.code !== undefined ? { code: body.error.code } : {}) };
}

describe.runIf(canRun)('PostgreSQL restarted under load', () => {
  it('requests fail with 503 unavailable while it is down, /readyz says so, the node reconnects, nothing acknowledged is lost', async () => {
    const random = prng(faultSeed('postgres restart'));
    const { node } = await pgNode();
    const write = await node.key('write');
    const check = await node.key('check');
    expect((await node.request('GET', '/readyz')).status).toBe(200);

    const acked: CreatedListingBody[] = [];
    const outcomes: Outcome[] = [];
    let phase: 'before' | 'down' | 'after' = 'before';
    const afterRestart: Outcome[] = [];
    let stop = false;
    let n = 0;
    const writer = async (w: number) => {
      while (!stop) {
        const i = n++;
        // Mostly listings, now and then a check: both need the database.
        const res =
          random() < 0.8
            ? await node.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [email(`w${w}-${i}@example.com`)] }) })
            : await node.request('POST', '/v1/check', { key: check, body: { identifiers: [phone()] } });
        const seen = await outcome(res.clone());
        outcomes.push(seen);
        if (phase === 'after') afterRestart.push(seen);
        if (res.status === 201) acked.push((await res.json()) as CreatedListingBody);
        if (res.status >= 400) await new Promise<void>((resolve) => setTimeout(resolve, 20));
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));

    await waitFor(() => acked.length >= 10, { message: 'ten listings acknowledged before the restart' });
    const before = acked.length;
    await cluster!.restart(async () => {
      phase = 'down';
      const ready = await waitFor(
        async () => {
          const res = await node.request('GET', '/readyz');
          return res.status === 503 ? ((await res.json()) as { status: string }) : undefined;
        },
        { message: '/readyz to say not ready while the server is down' },
      );
      expect(ready).toEqual({ status: 'database_unavailable' });
      const down = await outcome(await node.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [email('down@example.com')] }) }));
      expect(down).toEqual({ status: 503, code: 'unavailable' });
    });
    phase = 'after';
    // Reconnected by itself: /readyz is ready again and new listings are acknowledged.
    await waitFor(async () => (await node.request('GET', '/readyz')).status === 200, { message: '/readyz to be ready again' });
    await waitFor(() => afterRestart.filter((o) => o.status === 201).length >= 5, { timeoutMs: 30_000, message: 'five listings acknowledged after the restart' });
    stop = true;
    await Promise.all(writers);

    expect(acked.length).toBeGreaterThan(before);
    const failures = outcomes.filter((o) => o.status >= 400);
    expect(
      failures.every((o) => o.status === 503 && o.code === 'unavailable'),
      JSON.stringify(failures.filter((o) => o.status !== 503).slice(0, 5)),
    ).toBe(true);
    expect(outcomes.filter((o) => o.status >= 500 && o.status !== 503)).toEqual([]);
    expect(outcomes.every((o) => o.status === 201 || o.status === 200 || o.status === 503)).toBe(true);
    // Nothing acknowledged is lost.
    for (const listing of acked) {
      const res = await node.request('GET', `/v1/listings/${listing.id}`, { key: write });
      expect(res.status, listing.id).toBe(200);
      expect(await res.json()).toMatchObject({ id: listing.id, tokens: listing.tokens });
    }
    expect(node.logs()).not.toMatch(/"level":50[^\n]*"status":500/);
  });
});

describe.runIf(canRun)('a statement past database.statementTimeoutMs', () => {
  it('fails with 503 unavailable, in bounded time, while another connection holds a lock the write needs; the next write succeeds', async () => {
    const { node, url } = await pgNode({ statementTimeoutMs: 300 });
    const write = await node.key('write');
    expect((await node.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [email('first@example.com')] }) })).status).toBe(201);

    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    cleanup.push(() => holder.end());
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE listings IN ACCESS EXCLUSIVE MODE');
    const res = await node.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [email('blocked@example.com')] }) });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(503);
    expect(body.error.code).toBe('unavailable');
    // The statement timeout ended the wait, not the writer's lock_timeout of 5 s (which says "writer lock").
    expect(body.error.message).toMatch(/statementTimeoutMs/);
    await holder.query('ROLLBACK');

    const after = await node.request('POST', '/v1/listings', { key: write, body: listingBody({ identifiers: [email('after@example.com')] }) });
    expect(after.status).toBe(201);
    expect(((await after.json()) as CreatedListingBody).seq).toBe(2);
  });
});
