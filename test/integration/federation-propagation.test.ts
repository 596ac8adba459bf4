/**
 * Federation propagation over real nodes on loopback: a listing made on one platform is denied
 * everywhere, a retraction or an expiry lifts it everywhere, entries travel through intermediaries
 * while their origin is offline, a follower interrupted mid-sync resumes without loss or
 * duplicates, and the admin status reports peers, sizes and lag.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { logOrigin, openCheckpoint } from '../../src/log/checkpoint.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { openDatabase } from '../../src/store/database.js';
import { LogReader } from '../../src/store/log-repository.js';
import { rootAt } from '../../src/store/proofs.js';
import { queryNumber, queryRows } from '../helpers/db-query.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { email, nationalId, paymentAccount, phone } from '../helpers/fixtures.js';

let fed: TestFederation | undefined;
afterEach(async () => {
  await fed?.stop();
  fed = undefined;
});

async function start(n: number, extra?: Parameters<typeof createFederation>[1]): Promise<TestFederation> {
  fed = await createFederation(n, extra);
  return fed;
}

/** Listing ids, log size and entry count of one origin's log as a node holds it. */
async function logView(node: FedNode, origin: string): Promise<{ size: number; count: number; distinct: number; listings: string[] }> {
  const db = node.node.database.db;
  const stats = await db
    .selectFrom('log_entries')
    .select((eb) => [eb.fn.max('seq').as('size'), eb.fn.countAll().as('count'), eb.fn.count('seq').distinct().as('distinct')])
    .where('origin', '=', origin)
    .executeTakeFirstOrThrow();
  const listings = await db.selectFrom('listings').select('id').where('origin', '=', origin).orderBy('seq').execute();
  return { size: Number(stats.size ?? 0), count: Number(stats.count), distinct: Number(stats.distinct), listings: listings.map((l) => l.id) };
}

describe('a listing propagates to every node', () => {
  it('is denied on every other node; a retraction at the origin makes every node allow again', async () => {
    const f = await start(3);
    const [alpha, beta, gamma] = f.nodes as [FedNode, FedNode, FedNode];
    const ids = [phone(), nationalId()];
    for (const n of f.all) expect((await f.check(n, ids)).decision).toBe('allow');

    const listed = await f.list(alpha, ids);
    expect(listed.id).toBe('alpha:1');
    for (const n of [beta, gamma, f.association]) {
      await f.waitForDecision(n, ids, 'deny');
      const result = await f.check(n, ids);
      expect(result.matches).toEqual(expect.arrayContaining([expect.objectContaining({ listingId: 'alpha:1', origin: 'alpha' })]));
    }
    // Another identifier stays allowed: the match is the listing, not a blanket deny.
    expect((await f.check(beta, [email()])).decision).toBe('allow');

    await f.retract(alpha, listed.id);
    for (const n of f.all) await f.waitForDecision(n, ids, 'allow');
    for (const n of f.all) {
      const row = await n.node.database.db.selectFrom('listings').select(['status', 'retraction_reason']).where('id', '=', 'alpha:1').executeTakeFirstOrThrow();
      expect(row).toEqual({ status: 'retracted', retraction_reason: 'appeal_upheld' });
      expect(await f.logSize(n, 'alpha')).toBe(2);
    }
  });

  it('an expired listing stops matching everywhere', async () => {
    const f = await start(3);
    const [alpha] = f.nodes as [FedNode];
    const ids = [paymentAccount('alipay:expiring-0001')];
    const expiresAt = new Date(Date.now() + 8_000).toISOString();
    await f.list(alpha, ids, { expiresAt });
    // Denied everywhere before it expires: it must propagate well within the eight seconds.
    for (const n of f.all) await f.waitForDecision(n, ids, 'deny', Date.parse(expiresAt) - Date.now() - 1_000);
    for (const n of f.all) {
      const row = await n.node.database.db.selectFrom('listings').select(['expires_at', 'status']).where('id', '=', 'alpha:1').executeTakeFirstOrThrow();
      expect(row).toEqual({ expires_at: expiresAt, status: 'active' });
    }
    await waitFor(() => Date.now() > Date.parse(expiresAt), { timeoutMs: 10_000, message: 'the expiry time to pass' });
    for (const n of f.all) expect((await f.check(n, ids)).decision).toBe('allow');
  });
});

describe('entries travel through intermediaries', () => {
  it('a node that was down receives the origin’s entries from other peers while the origin is offline', async () => {
    const f = await start(3);
    const [alpha, beta, gamma] = f.nodes as [FedNode, FedNode, FedNode];
    const ids = [phone('13900139000')];
    await f.stopNode(gamma);
    const listed = await f.list(alpha, ids);
    await f.waitForDecision(beta, ids, 'deny');
    await waitFor(async () => (await f.logSize(f.association, 'alpha')) === 1, { message: 'the association to mirror alpha' });
    const alphaKey = alpha.node.identity.publicKey;
    await f.stopNode(alpha);

    await f.startNode(gamma);
    await f.waitForDecision(gamma, ids, 'deny');
    const result = await f.check(gamma, ids);
    expect(result.matches).toEqual([expect.objectContaining({ listingId: listed.id, origin: 'alpha' })]);
    // What gamma holds is alpha's own signed checkpoint, relayed, not something a peer made up.
    const cp = await new CheckpointRepository(gamma.node.database.db).latest('alpha');
    expect(cp?.size).toBe(1);
    const opened = openCheckpoint(cp!.note, { name: logOrigin(gamma.node.config.federation, 'alpha'), publicKey: alphaKey });
    expect(opened.ok).toBe(true);
  });
});

describe('a follower restarted mid-sync', () => {
  it('resumes with no loss and no duplicates, and its tree root equals the origin’s checkpoint', async () => {
    const TOTAL = 320;
    const f = await start(3, { extra: { sync: { pageSize: 20 } } });
    const [alpha, beta, gamma] = f.nodes as [FedNode, FedNode, FedNode];
    await f.stopNode(gamma);
    const account = (i: number) => paymentAccount(`alipay:bulk-${String(i).padStart(5, '0')}`);
    const listed: string[] = [];
    for (let i = 0; i < TOTAL; i += 16) {
      const batch = await Promise.all(Array.from({ length: Math.min(16, TOTAL - i) }, (_, j) => f.list(alpha, [account(i + j)])));
      listed.push(...batch.map((l) => l.id));
    }
    const retractedId = listed[6]!;
    await f.retract(alpha, retractedId);
    const total = TOTAL + 1;
    for (const n of [beta, f.association]) {
      await waitFor(async () => (await f.logSize(n, 'alpha')) === total, { message: `${n.member} to mirror all of alpha` });
    }

    await f.startNode(gamma);
    const gammaDatabase = gamma.node.config.database;
    // Stop as soon as part of the log is in: every page is a round trip, so this lands mid-sync.
    const partial = await waitFor(async () => (gamma.running ? ((await queryNumber(gamma.node.database, "SELECT max(seq) AS size FROM log_entries WHERE origin = 'alpha'")) ?? 0) : 0), {
      intervalMs: 0,
      message: 'gamma to ingest a first page of alpha',
    });
    expect(partial).toBeLessThan(total);
    await f.stopNode(gamma);

    // Stopping did not wait for the whole log: what was committed is a gap-free prefix.
    const disk = await openDatabase({ ...gammaDatabase, readonly: true });
    try {
      const [row] = await queryRows<{ size: number; n: number }>(disk, "SELECT max(seq) AS size, count(*) AS n FROM log_entries WHERE origin = 'alpha'");
      expect(Number(row!.size)).toBeGreaterThan(0);
      expect(Number(row!.size)).toBeLessThan(total);
      expect(Number(row!.n)).toBe(Number(row!.size));
    } finally {
      await disk.close();
    }

    await f.startNode(gamma);
    await waitFor(async () => (await f.logSize(gamma, 'alpha')) === total, { timeoutMs: 30_000, message: 'gamma to catch up with alpha' });
    const origin = await logView(alpha, 'alpha');
    const follower = await logView(gamma, 'alpha');
    expect(follower).toEqual(origin);
    expect(follower).toMatchObject({ size: total, count: total, distinct: total });
    expect(follower.listings).toHaveLength(TOTAL);

    const originCp = await new CheckpointRepository(alpha.node.database.db).latest('alpha');
    expect(originCp?.size).toBe(total);
    const followerRoot = await rootAt(new LogReader(gamma.node.database.db), 'alpha', total);
    expect(Buffer.from(followerRoot).toString('hex')).toBe(Buffer.from(originCp!.root).toString('hex'));
    const followerCp = await waitFor(
      async () => {
        const cp = await new CheckpointRepository(gamma.node.database.db).latest('alpha');
        return cp?.size === total ? cp : undefined;
      },
      { message: 'gamma to store alpha’s latest checkpoint' },
    );
    // The same signed tree under alpha's own signature (its first signature line). Either copy may
    // also carry a cosignature of the witness, and the two copies may have got different ones: the
    // witness cosigns a checkpoint again, with a new timestamp, when asked again.
    const body = (note: string) => note.slice(0, note.indexOf('\n\n') + 1);
    const signatures = (note: string) => note.split('\n').filter((line) => line.startsWith('\u2014 '));
    expect(body(followerCp.note)).toBe(body(originCp!.note));
    expect(signatures(followerCp.note)[0]).toBe(signatures(originCp!.note)[0]);
    expect(signatures(originCp!.note)[0]).toBeDefined();
    expect(followerCp.root).toEqual(originCp!.root);

    const retracted = await gamma.node.database.db.selectFrom('listings').select('status').where('id', '=', retractedId).executeTakeFirstOrThrow();
    expect(retracted.status).toBe('retracted');
    expect((await f.check(gamma, [account(300)])).decision).toBe('deny');
    expect((await f.check(gamma, [account(6)])).decision).toBe('allow');
  }, 90_000);
});

describe('GET /v1/federation/status', () => {
  it('shows the peers, every origin’s size and a lag of 0 once caught up', async () => {
    const f = await start(3);
    const [alpha, beta] = f.nodes as [FedNode, FedNode];
    await f.list(alpha, [phone()]);
    await f.list(alpha, [email()]);
    await f.list(beta, [nationalId()]);
    const expected: Record<string, number> = { alpha: 2, association: 0, beta: 1, gamma: 0 };

    for (const n of f.all) {
      const status = await waitFor(
        async () => {
          const s = await f.status(n);
          const sizes = Object.fromEntries(s.origins.map((o) => [o.origin, o.size]));
          const caughtUp = s.peers.length === 3 && s.peers.every((p) => p.lastSuccessAt !== null);
          const lags = s.origins.flatMap((o) => Object.values(o.lagByPeer));
          return caughtUp && JSON.stringify(sizes) === JSON.stringify(expected) && lags.length > 0 && lags.every((l) => l === 0) ? s : undefined;
        },
        { message: `${n.member} to report every origin caught up` },
      );
      expect(status.member).toBe(n.member);
      expect(status.roster).toEqual({ version: 1, members: 4 });
      expect(status.peers.map((p) => p.member).sort()).toEqual(
        f.all
          .map((h) => h.member)
          .filter((m) => m !== n.member)
          .sort(),
      );
      for (const p of status.peers) expect(p).toMatchObject({ lastError: null, consecutiveFailures: 0 });
      const alphaOrigin = status.origins.find((o) => o.origin === 'alpha');
      expect(alphaOrigin).toMatchObject({ size: 2, checkpointSize: 2 });
      expect(status.misbehaviour).toEqual([]);
    }
  });

  it('needs an admin key', async () => {
    const f = await start(1);
    const [alpha] = f.nodes as [FedNode];
    const res = await fetch(`${alpha.url}/v1/federation/status`, { headers: { authorization: `Bearer ${alpha.checkKey}` } });
    expect(res.status).toBe(403);
    const none = await fetch(`${alpha.url}/v1/federation/status`);
    expect(none.status).toBe(401);
  });
});
