/**
 * A trickling member (docs/SECURITY.md, "A trickling peer"): mallory, in the signed roster, serves a
 * signed checkpoint of its own log and then trickles the entries page one byte a second, while the
 * garbage collector runs every 100 ms. Before, the request's deadline was an AbortSignal.timeout
 * handed to fetch, which undici drops once the Request object is collected (nodejs/node#55428): the
 * round never ended, the origin's lock was never released, and the status still showed no failure.
 *
 * gc() is exposed at runtime (test/helpers/gc.ts) and the tests require that it is a function and
 * that it ran while a trickle was being read: a run without a collector proves nothing here.
 * Nothing asserts a duration: "promptly" is "well within the test's timeout while the request
 * deadline is minutes away", and the evidence is the state the nodes and mallory report.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, suspendMember } from '../../src/roster/index.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { paymentAccount, type Identifier } from '../helpers/fixtures.js';
import { exposeGc } from '../helpers/gc.js';
import { craftListing, HostilePeer, type HostileRequest } from '../helpers/hostile-peer.js';

const MALLORY = 'mallory';
let labels = 0;
const ids = (label: string): Identifier[] => [paymentAccount(`alipay:trickle-${label}-${++labels}`)];
const isEntries = (req: HostileRequest) => req.method === 'GET' && req.path.startsWith(`/v1/federation/logs/${MALLORY}/entries/`);

/** Collects garbage every 100 ms; counts the collections made while mallory has a trickle open. */
function collecting(peer: () => HostilePeer | undefined): { stop: () => void; duringTrickle: () => number } {
  const gc = exposeGc();
  expect(gc, 'gc() must be exposed: without a collector this test proves nothing').toBeTypeOf('function');
  let during = 0;
  const timer = setInterval(() => {
    gc!();
    if ((peer()?.openStreams ?? 0) > 0) during += 1;
  }, 100);
  return { stop: () => clearInterval(timer), duringTrickle: () => during };
}

/** Adds mallory to the roster and serves its own log of `n` listings with a checkpoint it signs. */
async function admitMallory(fed: TestFederation, mallory: HostilePeer, n: number): Promise<void> {
  await fed.updateRoster((draft, now) => {
    const added = addMember(draft, mallory.member, now);
    if (!added.ok) throw new Error(added.error);
    return added.draft;
  });
  const entries = Array.from({ length: n }, (_, i) => craftListing(MALLORY, i + 1, fed.tokens(ids('mallory'))));
  mallory.serveOwnLog(fed.association.node.config.federation, entries);
}

function originLockHeld(node: FedNode, origin: string): boolean {
  return node.node.federation.sync['originLock'].held(origin);
}

describe('a peer that trickles its entries page, with the garbage collector running', () => {
  let fed: TestFederation;
  let mallory: HostilePeer;
  let gc: ReturnType<typeof collecting>;
  const requestTimeoutMs = 1_500;

  beforeAll(async () => {
    mallory = await HostilePeer.start(MALLORY);
    fed = await createFederation(2, { extra: { sync: { requestTimeoutMs, pageSize: 2 }, limits: { peerRatePerSecond: 1_000_000, peerBurst: 1_000_000 } } });
    gc = collecting(() => mallory);
  });
  afterAll(async () => {
    gc?.stop();
    await fed?.stop();
    await mallory?.close();
  });

  it('times the request out, counts the failure, releases the origin lock, and every other origin keeps syncing', async () => {
    const [alpha, beta] = fed.nodes as [FedNode, FedNode];
    // Honest answers to everyone but beta: beta gets mallory's log only through alpha or the
    // association, which needs the lock on origin mallory that beta's round against mallory takes.
    mallory.trickle((req) => req.caller === beta.member && isEntries(req), { prefix: `{"origin":"${MALLORY}","start":0,"entries":["`, chunk: 'Q' });
    await admitMallory(fed, mallory, 3);

    await waitFor(() => mallory.openStreams > 0 && originLockHeld(beta, MALLORY), { message: 'beta reading a trickle while holding the lock on origin mallory' });
    // The deadline fires whatever the collector did meanwhile, and the status says so.
    const failed = await waitFor(
      async () => {
        const peer = (await fed.status(beta)).peers.find((p) => p.member === MALLORY);
        return peer?.lastError?.includes(`the whole answer did not arrive within ${requestTimeoutMs} ms`) ? peer : undefined;
      },
      { message: "beta's round against mallory to end at the request deadline" },
    );
    expect(failed.consecutiveFailures).toBeGreaterThan(0);
    expect(failed.failedRounds).toBeGreaterThan(0);
    expect(gc.duringTrickle(), 'collections while a trickle was open').toBeGreaterThanOrEqual(3);
    const metrics = await fetch(`${beta.url}/metrics`, { headers: { authorization: `Bearer ${beta.adminKey}` } });
    expect(await metrics.text()).toMatch(/jointban_sync_peer_failed_rounds\{peer="mallory"\} [1-9]/);
    // beta closed the trickling connection itself.
    await waitFor(() => mallory.cancelledStreams > 0, { message: 'beta to close a trickling connection' });

    // The lock was released: beta takes mallory's log from an honest relay.
    await waitFor(async () => (await fed.logSize(beta, MALLORY)) === 3, { message: "beta to hold mallory's 3 entries, relayed by alpha or the association" });
    // Other origins keep syncing while mallory keeps trickling.
    const honest = ids('honest');
    await fed.list(alpha, honest);
    await fed.waitForDecision(beta, honest, 'deny');
    const fromAssociation = ids('association');
    await fed.list(fed.association, fromAssociation);
    await fed.waitForDecision(beta, fromAssociation, 'deny');
    const health = await fetch(`${beta.url}/healthz`);
    expect(health.status).toBe(200);
  });
});

describe('a sync from a trickling peer in flight, with a request deadline minutes away', () => {
  let fed: TestFederation;
  let mallory: HostilePeer;
  let gc: ReturnType<typeof collecting>;

  beforeAll(async () => {
    mallory = await HostilePeer.start(MALLORY);
    // The deadlines are far beyond the test's timeout: only the stop or the suspension can end the trickle.
    fed = await createFederation(1, { extra: { sync: { requestTimeoutMs: 600_000, ingestTimeoutMs: 600_000, pageSize: 2 } } });
    gc = collecting(() => mallory);
    mallory.trickle(isEntries, { prefix: `{"origin":"${MALLORY}","start":0,"entries":["`, chunk: 'Q' });
    await admitMallory(fed, mallory, 3);
  });
  afterAll(async () => {
    gc?.stop();
    await fed?.stop();
    await mallory?.close();
  });

  it('ends when the node stops: stop() returns and the connection is closed', async () => {
    const [alpha] = fed.nodes as [FedNode];
    await waitFor(() => originLockHeld(alpha, MALLORY), { message: 'alpha ingesting mallory (holding its lock)' });
    await waitFor(() => mallory.openStreams > 0, { message: 'a trickle open' });
    const cancelled = mallory.cancelledStreams;
    await fed.stopNode(alpha);
    expect(alpha.running).toBe(false);
    await waitFor(() => mallory.cancelledStreams > cancelled, { message: "alpha's trickling connection closed by its stop" });
    await fed.startNode(alpha);
  });

  it('ends when the member is suspended: the lock is released and nothing of it is stored', async () => {
    const [alpha] = fed.nodes as [FedNode];
    await waitFor(() => originLockHeld(alpha, MALLORY) && mallory.openStreams > 0, { message: 'alpha reading a trickle from mallory again' });
    const cancelled = mallory.cancelledStreams;
    await fed.updateRoster((draft, now) => {
      const suspended = suspendMember(draft, MALLORY, now);
      if (!suspended.ok) throw new Error(suspended.error);
      return suspended.draft;
    });
    await waitFor(() => !originLockHeld(alpha, MALLORY), { message: "the lock on origin mallory released by mallory's suspension" });
    await waitFor(() => mallory.cancelledStreams > cancelled, { message: "alpha's trickling connection closed by the suspension" });
    expect(alpha.node.federation.sync.status().map((p) => p.member)).not.toContain(MALLORY);
    expect(await fed.logSize(alpha, MALLORY)).toBe(0);
    // Honest data still flows.
    const honest = ids('after-suspension');
    await fed.list(fed.association, honest);
    await fed.waitForDecision(alpha, honest, 'deny');
  });
});

describe('a witness that trickles its answer to a cosignature request, with a request deadline minutes away', () => {
  let fed: TestFederation;
  let witness: HostilePeer | undefined;
  let gc: ReturnType<typeof collecting>;
  const isCosignatures = (req: HostileRequest) => req.method === 'POST' && req.path === '/v1/federation/cosignatures';

  beforeAll(async () => {
    fed = await createFederation(1, { extra: { sync: { requestTimeoutMs: 600_000, ingestTimeoutMs: 600_000 } } });
    gc = collecting(() => witness);
  });
  afterAll(async () => {
    gc?.stop();
    await fed?.stop();
    await witness?.close();
  });

  it("ends when the node stops: the collector's request is cut and stop() returns", async () => {
    const [alpha] = fed.nodes as [FedNode];
    // In the association's place, on its port: a witness that answers every cosignature request
    // with headers and then one byte a second. alpha's own checkpoints, signed now, lack its cosignature.
    const port = Number(new URL(fed.association.url).port);
    await fed.stopNode(fed.association);
    witness = await HostilePeer.start('association', port);
    witness.trickle(isCosignatures, { prefix: '{"checkpoints":[' });
    await fed.list(alpha, ids('cosign-trickle'));
    await waitFor(() => witness!.openStreams > 0, { message: "alpha's cosignature collector reading a trickle" });
    const cancelled = witness.cancelledStreams;
    await fed.stopNode(alpha);
    expect(alpha.running).toBe(false);
    await waitFor(() => witness!.cancelledStreams > cancelled, { message: "the collector's trickling connection closed by alpha's stop" });
  });
});
