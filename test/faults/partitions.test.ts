/**
 * Outages and partitions: "Peers that were down or partitioned converge after they return,
 * without operator action" (DESIGN.md). Real nodes on loopback, each behind a TCP proxy
 * (test/helpers/proxy.ts) that its roster endpoint points at, so the network between them can be
 * cut, slowed and restored per direction while the test watches. Every scenario ends with the
 * whole federation holding the same log sizes and the same signed checkpoint (size and root) for
 * every origin, no misbehaviour recorded, and nothing done by an operator in between: the test
 * only lists, checks, switches proxies and starts or stops nodes.
 *
 * No timing assertions: conditions are awaited with bounded polling; bounds on what the nodes
 * report (backoff intervals in the status) are arithmetic on the nodes' own timestamps.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/crypto/encoding.js';
import type { PeerStatus } from '../../src/federation/sync.js';
import { createFederation, waitFor, type FedNode, type TestFederation, type WaitForOptions } from '../helpers/federation.js';
import { paymentAccount, type Identifier } from '../helpers/fixtures.js';
import { exposeGc } from '../helpers/gc.js';
import { cut, delay, startProxy, trickle, type TcpProxy } from '../helpers/proxy.js';

let fed: TestFederation | undefined;
let proxies: TcpProxy[] = [];
afterEach(async () => {
  for (const p of proxies) await p.close();
  proxies = [];
  await fed?.stop();
  fed = undefined;
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const ids = (label: string): Identifier[] => [paymentAccount(`alipay:partition-${label}`)];

/** waitFor, and on timeout the state that was awaited as it is at that moment. */
async function waitShowing<T>(fn: () => T | Promise<T>, options: WaitForOptions, state: () => unknown): Promise<NonNullable<T>> {
  try {
    return await waitFor(fn, options);
  } catch (err) {
    throw new Error(`${(err as Error).message}; now: ${JSON.stringify(state())}`);
  }
}

/** Puts a proxy in front of every node and points the roster at the proxies. */
async function behindProxies(f: TestFederation): Promise<Record<string, TcpProxy>> {
  const byMember: Record<string, TcpProxy> = {};
  for (const n of f.all) {
    const proxy = await startProxy(n.url);
    proxies.push(proxy);
    byMember[n.member] = proxy;
  }
  await f.updateRoster((draft) => ({ ...draft, members: draft.members.map((m) => ({ ...m, endpoint: byMember[m.id]?.url ?? m.endpoint })) }));
  for (const n of f.running()) {
    const endpoints = n.node.federation.sync.status().map((p) => p.endpoint);
    expect(
      endpoints.every((e) => Object.values(byMember).some((p) => p.url === e)),
      `${n.member} syncs through the proxies`,
    ).toBe(true);
  }
  return byMember;
}

function peerStatus(node: FedNode, peer: string): PeerStatus {
  const found = node.node.federation.sync.status().find((p) => p.member === peer);
  if (!found) throw new Error(`${node.member} has no sync loop for ${peer}`);
  return found;
}

/** Log size and latest checkpoint (size, root) of every origin, as one node holds them. */
function heads(node: FedNode, origins: readonly string[]): string {
  const db = node.node.database.sqlite;
  return origins
    .map((o) => {
      const size = (db.prepare('SELECT coalesce(max(seq), 0) AS n FROM log_entries WHERE origin = ?').get(o) as { n: number }).n;
      const cp = db.prepare('SELECT size, root FROM checkpoints WHERE origin = ? ORDER BY size DESC LIMIT 1').get(o) as { size: number; root: Buffer } | undefined;
      return `${o}=${size}/${cp?.size ?? 0}/${cp ? toBase64(new Uint8Array(cp.root)) : '-'}`;
    })
    .join(' ');
}

/** Waits until every node holds the same sizes and checkpoints, each covering its whole log, then checks for misbehaviour. */
async function converged(f: TestFederation, origins: readonly string[], sizes: Record<string, number>, timeoutMs = 30_000): Promise<void> {
  const want = origins.map((o) => `${o}=${sizes[o]}/${sizes[o]}/`);
  await waitShowing(
    () => {
      const all = f.all.map((n) => heads(n, origins));
      return all.every((h) => h === all[0]) && origins.every((_, i) => all[0]!.split(' ')[i]!.startsWith(want[i]!));
    },
    { timeoutMs, intervalMs: 50, message: `every node to hold ${want.join(' ')}… with equal roots` },
    () => Object.fromEntries(f.all.map((n) => [n.member, heads(n, origins)])),
  );
  for (const n of f.all) expect((await f.status(n)).misbehaviour, `misbehaviour recorded by ${n.member}`).toEqual([]);
}

/**
 * Checks keep answering from local data while `busy()` holds (a sync request is stuck in the
 * proxy): polls /v1/check on the node until `wanted` checks have started and finished while it
 * held, at most `attempts` times; every answer must be 200 with the expected decision.
 */
async function checksAnswerWhile(f: TestFederation, node: FedNode, identifiers: Identifier[], decision: string, busy: () => boolean, wanted = 5, attempts = 80): Promise<void> {
  let overlapped = 0;
  for (let i = 0; i < attempts && overlapped < wanted; i++) {
    const before = busy();
    const result = await f.check(node, identifiers);
    expect(result.decision, `check on ${node.member} during the slowdown`).toBe(decision);
    if (before && busy()) overlapped += 1;
    await sleep(40);
  }
  expect(overlapped, `checks on ${node.member} answered while a sync request was held in the proxy (of ${attempts} attempts)`).toBeGreaterThanOrEqual(wanted);
}

describe('a peer stopped for a while, then restarted', () => {
  it('gets what others listed meanwhile; what it listed before stopping reached others through an intermediary', { timeout: 90_000 }, async () => {
    const f = (fed = await createFederation(2));
    const [alpha, beta] = f.nodes as [FedNode, FedNode];
    const assoc = f.association;
    const proxy = await behindProxies(f);

    // The association cannot reach alpha at all: whatever it learns of alpha's log comes via beta.
    proxy.alpha!.set(cut('refuse'), { from: ['association'] });
    await f.list(alpha, ids('a1'));
    await f.waitForDecision(assoc, ids('a1'), 'deny');
    expect(proxy.alpha!.stats().refused, 'the association tried alpha directly and was refused').toBeGreaterThan(0);

    await f.stopNode(alpha);
    proxy.alpha!.reset();
    await f.list(beta, ids('b1'));
    await f.list(assoc, ids('s1'));
    // A while: both the others have failed to reach alpha a few times; checks answer all along.
    await waitShowing(
      () => peerStatus(beta, 'alpha').consecutiveFailures >= 3 && peerStatus(assoc, 'alpha').consecutiveFailures >= 3,
      { timeoutMs: 20_000, message: 'beta and the association to fail to reach the stopped alpha three times' },
      () => [peerStatus(beta, 'alpha'), peerStatus(assoc, 'alpha')],
    );
    for (const n of [beta, assoc]) for (const l of ['a1', 'b1', 's1']) await f.waitForDecision(n, ids(l), 'deny');
    expect(peerStatus(beta, 'alpha').lastError, 'the failure is recorded').toContain(`cannot reach ${proxy.alpha!.url}`);

    await f.startNode(alpha);
    for (const l of ['b1', 's1']) await f.waitForDecision(alpha, ids(l), 'deny');
    await converged(f, ['alpha', 'beta', 'association'], { alpha: 1, beta: 1, association: 1 });
    await waitFor(() => peerStatus(beta, 'alpha').consecutiveFailures === 0 && peerStatus(assoc, 'alpha').consecutiveFailures === 0, {
      message: "the others' sync loops of alpha to succeed again",
    });
  });
});

describe('a peer slowed down', () => {
  it('beyond the request timeout (delayed, then trickled): rounds time out and say so; data arrives through another peer; checks keep answering; recovery once fast again', {
    timeout: 90_000,
  }, async () => {
    const timeoutMs = 1_500;
    const f = (fed = await createFederation(2, { extra: { sync: { requestTimeoutMs: timeoutMs } } }));
    const [alpha, beta] = f.nodes as [FedNode, FedNode];
    const proxy = await behindProxies(f);

    // Only alpha's requests to beta are slowed, to twice the timeout.
    proxy.beta!.set(delay(2 * timeoutMs), { from: ['alpha'] });
    await f.list(beta, ids('slow-1'));
    await f.waitForDecision(f.association, ids('slow-1'), 'deny');
    await f.waitForDecision(alpha, ids('slow-1'), 'deny', 20_000);
    await waitShowing(
      () => /within 1500 ms/.test(peerStatus(alpha, 'beta').lastError ?? ''),
      { timeoutMs: 20_000, message: "alpha's status of beta to show the timeout" },
      () => peerStatus(alpha, 'beta'),
    );
    expect(peerStatus(alpha, 'beta').consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(peerStatus(alpha, 'association').lastError, 'the fast peer is unaffected').toBeNull();
    const held = () => proxy.beta!.stats().held > 0;
    for (const n of f.all) await checksAnswerWhile(f, n, ids('slow-1'), 'deny', held);

    proxy.beta!.reset();
    await f.list(beta, ids('slow-2'));
    await converged(f, ['alpha', 'beta', 'association'], { alpha: 0, beta: 2, association: 0 });
    const recovered = () => peerStatus(alpha, 'beta').lastError === null && peerStatus(alpha, 'beta').consecutiveFailures === 0;
    await waitFor(recovered, { timeoutMs: 20_000, message: "alpha's sync of beta to succeed again without anyone's help" });

    // An answer that starts at once but trickles in (64 bytes every 200 ms) is cut off at the
    // timeout as well: the bound covers the whole answer, not only its first byte.
    proxy.beta!.set(trickle(64, 200), { from: ['alpha'] });
    await waitShowing(
      () => /within 1500 ms/.test(peerStatus(alpha, 'beta').lastError ?? ''),
      { timeoutMs: 20_000, message: "alpha's status of beta to show the trickled answer timing out" },
      () => peerStatus(alpha, 'beta'),
    );
    await checksAnswerWhile(f, alpha, ids('slow-2'), 'deny', () => proxy.beta!.stats().held > 0, 3);
    proxy.beta!.reset();
    await f.list(beta, ids('slow-3'));
    await converged(f, ['alpha', 'beta', 'association'], { alpha: 0, beta: 3, association: 0 });
    await waitFor(recovered, { timeoutMs: 20_000, message: "alpha's sync of beta to recover from the trickle" });
  });

  it('below the request timeout: every node still syncs directly from the slow peer, and checks keep answering', { timeout: 90_000 }, async () => {
    const f = (fed = await createFederation(2, { extra: { sync: { requestTimeoutMs: 6_000 } } }));
    const [alpha, beta] = f.nodes as [FedNode, FedNode];
    const proxy = await behindProxies(f);

    // Every response beta gives is held 2 s: slow, but within the 6 s timeout.
    proxy.beta!.set(delay(2_000));
    await f.list(beta, ids('slowish'));
    const held = () => proxy.beta!.stats().held > 0;
    for (const n of f.all) await checksAnswerWhile(f, n, ids('slowish'), n === beta ? 'deny' : 'allow', held, 3);
    // beta's log can only leave beta through the slowed proxy, and it does.
    await converged(f, ['alpha', 'beta', 'association'], { alpha: 0, beta: 1, association: 0 }, 40_000);
    for (const n of [alpha, f.association]) {
      const s = peerStatus(n, 'beta');
      expect(s.lastError, `${n.member} never timed out on beta`).toBeNull();
      expect(s.lastSuccessAt).not.toBeNull();
    }
    expect(proxy.beta!.stats().requests.alpha ?? 0, 'alpha pulled from beta through the slow proxy').toBeGreaterThan(0);
  });
});

describe('a partition', () => {
  it('{alpha} | {beta, association}: both sides list; once restored everyone converges with no operator action', { timeout: 90_000 }, async () => {
    const f = (fed = await createFederation(2, { extra: { sync: { requestTimeoutMs: 1_000 } } }));
    const [alpha, beta] = f.nodes as [FedNode, FedNode];
    const assoc = f.association;
    const proxy = await behindProxies(f);

    // Both directions cut, in two ways: alpha's requests vanish (time out), the others' are reset.
    proxy.beta!.set(cut('drop'), { from: ['alpha'] });
    proxy.association!.set(cut('drop'), { from: ['alpha'] });
    proxy.alpha!.set(cut('refuse'), { from: ['beta', 'association'] });

    await f.list(alpha, ids('left-1'));
    await f.list(alpha, ids('left-2'));
    await f.list(beta, ids('right-1'));
    await f.list(assoc, ids('right-2'));
    // Each side converges within itself …
    await f.waitForDecision(assoc, ids('right-1'), 'deny');
    await f.waitForDecision(beta, ids('right-2'), 'deny');
    const across = () => [peerStatus(alpha, 'beta'), peerStatus(alpha, 'association'), peerStatus(beta, 'alpha'), peerStatus(assoc, 'alpha')];
    await waitShowing(() => across().every((s) => s.consecutiveFailures >= 2), { timeoutMs: 30_000, message: 'both sides to fail to reach the other at least twice' }, across);
    // … and nothing crossed the cut.
    expect((await f.check(alpha, ids('right-1'))).decision).toBe('allow');
    expect((await f.check(alpha, ids('right-2'))).decision).toBe('allow');
    expect((await f.check(beta, ids('left-1'))).decision).toBe('allow');
    expect((await f.check(assoc, ids('left-2'))).decision).toBe('allow');
    expect(proxy.beta!.stats().dropped + proxy.association!.stats().dropped).toBeGreaterThan(0);
    expect(proxy.alpha!.stats().refused).toBeGreaterThan(0);

    for (const p of Object.values(proxy)) p.reset();
    await converged(f, ['alpha', 'beta', 'association'], { alpha: 2, beta: 1, association: 1 });
    for (const n of f.all) for (const l of ['left-1', 'left-2', 'right-1', 'right-2']) expect((await f.check(n, ids(l))).decision, `${n.member} ${l}`).toBe('deny');
  });
});

describe('backoff while a peer is cut', () => {
  it('grows with consecutive failures but never waits longer than sync.backoffMaxMs', { timeout: 60_000 }, async () => {
    const backoffBaseMs = 50;
    const backoffMaxMs = 400;
    const f = (fed = await createFederation(1, { extra: { sync: { backoffBaseMs, backoffMaxMs } } }));
    const [alpha] = f.nodes as [FedNode];
    const proxy = await behindProxies(f);
    proxy.association!.set(cut('refuse'), { from: ['alpha'] });

    // Sampled from the admin API as an operator would see it. Only snapshots between two rounds
    // show the wait: during a round, lastAttemptAt is the running round and nextAttemptAt its start,
    // give or take the millisecond or two a timer fires early or late (so a wait of 1-2 ms is a
    // round in progress, not a wait: the shortest real one here is 25 ms).
    // Uncapped, the wait after failure 14 would be ≥ 0.5 × 50 ms × 2^13 ≈ 205 s. The allowance over
    // the cap covers the failed round itself (a refused connection), which lastAttemptAt includes.
    const roundAllowanceMs = 400;
    const TIMER_JITTER_MS = 2;
    const wanted = 14;
    const maxPolls = 1_500;
    const seen: { failures: number; waitMs: number }[] = [];
    let failures = 0;
    for (let poll = 0; poll < maxPolls && failures < wanted; poll++) {
      const s = (await f.status(alpha)).peers.find((p) => p.member === 'association')!;
      expect(s.consecutiveFailures, 'consecutive failures never go down while cut').toBeGreaterThanOrEqual(failures);
      failures = s.consecutiveFailures;
      const waitMs = Date.parse(s.nextAttemptAt ?? '') - Date.parse(s.lastAttemptAt ?? '');
      if (failures > 0 && waitMs > TIMER_JITTER_MS) {
        seen.push({ failures, waitMs });
        const exp = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (failures - 1));
        expect(waitMs, `wait after failure ${failures} exceeds the cap (${JSON.stringify(s)})`).toBeLessThanOrEqual(backoffMaxMs + roundAllowanceMs);
        // The jitter factor is in [0.5, 1): a node that waits less is hammering its peer.
        expect(waitMs, `wait after failure ${failures} is shorter than the backoff (${JSON.stringify(s)})`).toBeGreaterThanOrEqual(Math.floor(exp * 0.5) - 2);
      }
      await sleep(30);
    }
    expect(failures, `consecutive failures against the cut association after ${maxPolls} polls`).toBeGreaterThanOrEqual(wanted);
    const capped = new Set(seen.filter((s) => s.failures >= 4).map((s) => s.failures));
    expect(capped.size, `distinct failure counts seen with the cap in force: ${JSON.stringify(seen)}`).toBeGreaterThanOrEqual(5);
    expect((await f.status(alpha)).peers.find((p) => p.member === 'association')!.lastError).toBeTruthy();

    proxy.association!.reset();
    await f.list(f.association, ids('after-cut'));
    await f.waitForDecision(alpha, ids('after-cut'), 'deny');
    await waitFor(async () => (await f.status(alpha)).peers.find((p) => p.member === 'association')!.consecutiveFailures === 0, {
      message: 'the failure count to reset after the first good round',
    });
  });
});

describe('notifies while a peer is backed off', () => {
  it('a notify of nothing new does not shorten the backoff; one of news does, but not below the floor', { timeout: 60_000 }, async () => {
    const backoffBaseMs = 300;
    const backoffMaxMs = 20_000;
    const f = (fed = await createFederation(1, { extra: { sync: { backoffBaseMs, backoffMaxMs } } }));
    const [alpha] = f.nodes as [FedNode];
    const proxy = await behindProxies(f);
    proxy.association!.set(cut('refuse'), { from: ['alpha'] });
    const sync = alpha.node.federation.sync;
    const status = () => peerStatus(alpha, 'association');
    await waitShowing(() => status().consecutiveFailures >= 2, { timeoutMs: 20_000, message: 'alpha to fail twice against the cut association' }, status);

    // A member that notifies over and over with nothing this node lacks (its log of the association
    // is empty: size 0) wakes no round: before the fix each notify started one.
    const before = status().consecutiveFailures;
    for (let i = 0; i < 200; i++) {
      sync.notify('association', 'association', 0);
      await sleep(2);
    }
    await sleep(50);
    const after = status();
    // The backoff timer itself may fire once in that time (waits are 0.6 s and up by now).
    expect(after.consecutiveFailures - before, `rounds started by 200 notifies of nothing new: ${JSON.stringify(after)}`).toBeLessThanOrEqual(1);

    // Notifies of news (a size this node lacks) shorten the wait, at most to the floor each time.
    const newsFrom = status().consecutiveFailures;
    const started = Date.now();
    while (Date.now() - started < 1_500) {
      sync.notify('association', 'association', 1_000);
      await sleep(5);
    }
    const rounds = status().consecutiveFailures - newsFrom;
    // One round per backoffBaseMs at most (plus the one that may already be due): 1.5 s / 0.3 s.
    expect(rounds, `rounds in 1.5 s of notifies of news: ${JSON.stringify(status())}`).toBeLessThanOrEqual(Math.ceil(1_500 / backoffBaseMs) + 1);
    expect(rounds, 'notifies of news do shorten the backoff').toBeGreaterThanOrEqual(2);

    // Recovery does not wait out the backoff: the association's listing notifies alpha, which pulls
    // well before its backoff timer (up to 20 s by now) would have fired.
    const waitOf = (s: PeerStatus) => Date.parse(s.nextAttemptAt ?? '') - Date.parse(s.lastAttemptAt ?? '');
    // The last news notify left a short wait scheduled; the rounds after it back off again.
    await waitShowing(() => status().consecutiveFailures >= 7 && waitOf(status()) > 5 * backoffBaseMs, { timeoutMs: 30_000, message: 'a long backoff to be in force' }, status);
    proxy.association!.reset();
    const waiting = status();
    const dueAt = Date.parse(waiting.nextAttemptAt ?? '');
    await f.list(f.association, ids('news'));
    await f.waitForDecision(alpha, ids('news'), 'deny');
    const recovered = status();
    expect(recovered.consecutiveFailures).toBe(0);
    expect(Date.parse(recovered.lastSuccessAt ?? ''), `pulled before the backoff timer was due: ${JSON.stringify({ waiting, recovered })}`).toBeLessThan(dueAt);
  });
});

describe('memory while a peer is away for long', () => {
  it('does not grow with the number of failed rounds', { timeout: 120_000 }, async () => {
    const requestTimeoutMs = 300;
    const f = (fed = await createFederation(1, { extra: { sync: { backoffBaseMs: 10, backoffMaxMs: 100, requestTimeoutMs } } }));
    const [alpha] = f.nodes as [FedNode];
    await f.list(alpha, ids('mem'));
    await f.waitForDecision(f.association, ids('mem'), 'deny');
    // The association goes away: every round alpha runs against it fails (connection refused).
    await f.stopNode(f.association);
    const sync = alpha.node.federation.sync;
    const failures = () => peerStatus(alpha, 'association').consecutiveFailures;

    /**
     * Runs n more failed rounds. Each is started at once through retryNow (a notify would wait for
     * the backoff floor), so that thousands of rounds (weeks of a peer away at the default one-minute backoff cap) fail
     * in seconds; each round runs the same code as one the backoff timer starts.
     */
    const failRounds = async (n: number) => {
      const target = failures() + n;
      while (failures() < target) {
        const before = failures();
        sync.retryNow('association');
        await waitFor(() => failures() > before, { intervalMs: 0, timeoutMs: 10_000, message: `round ${before + 1} against the stopped association to fail` });
      }
    };
    const gc = exposeGc();
    const measure = async () => {
      // Requests still in flight hold their deadline timers (bounded-fetch.ts) until they settle,
      // at most requestTimeoutMs: memory bounded by rate × timeout, not by rounds. Let them end.
      await sleep(requestTimeoutMs + 200);
      gc?.();
      gc?.();
      const status = sync.status();
      // Compiled code is left out: the JIT keeps optimising for a while, whatever the rounds.
      const code = getHeapSpaceStatistics()
        .filter((s) => s.space_name.startsWith('code'))
        .reduce((n, s) => n + s.space_used_size, 0);
      return {
        rounds: failures(),
        heap: process.memoryUsage().heapUsed - code,
        peers: status.length,
        statusBytes: JSON.stringify(status.map(({ consecutiveFailures: _c, failedRounds: _f, lastAttemptAt: _l, nextAttemptAt: _n, lastSuccessAt: _s, ...rest }) => rest)).length,
        originLocks: sync['originLock']['queues'].size,
      };
    };

    await failRounds(1_000); // warm-up: JIT, connection pool, caches
    const first = await measure();
    await failRounds(1_000);
    const second = await measure();
    await failRounds(2_000);
    const third = await measure();
    const report = JSON.stringify({ first, second, third, gc: gc !== undefined });

    for (const m of [second, third]) {
      expect(m.peers, report).toBe(first.peers);
      expect(m.statusBytes, `the sync state of the away peer stays the same size: ${report}`).toBe(first.statusBytes);
      expect(m.originLocks, report).toBe(0);
    }
    // One bound for 1,000 and for 3,000 more failed rounds: the heap may wobble (JIT code, pools)
    // but must not grow with the rounds. 1 MiB over 3,000 rounds would be 350 bytes kept a round.
    if (gc) {
      const bound = 1024 * 1024;
      expect(second.heap - first.heap, `heap growth over ${second.rounds - first.rounds} failed rounds: ${report}`).toBeLessThan(bound);
      expect(third.heap - first.heap, `heap growth over ${third.rounds - first.rounds} failed rounds: ${report}`).toBeLessThan(bound);
    }
    // Checks kept answering from local data all along.
    expect((await f.check(alpha, ids('mem'))).decision).toBe('deny');

    await f.startNode(f.association);
    await f.list(f.association, ids('back'));
    await f.waitForDecision(alpha, ids('back'), 'deny');
    await converged(f, ['alpha', 'association'], { alpha: 1, association: 1 });
  });
});
