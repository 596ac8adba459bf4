/**
 * Crash safety: "No acknowledged write is lost: a node killed at any moment restarts with every
 * listing it acknowledged, and its log verifies" (DESIGN.md).
 *
 * alpha of a three-node federation runs as a child process (`jointban start`). Four clients stream
 * listings and retractions at it, several requests in flight, while beta lists too (alpha ingests
 * beta's log) and beta and the association pull alpha's log. At a random moment alpha is SIGKILLed;
 * now and then the kill lands during start-up instead. Moments and operations come from a seeded
 * PRNG, fixed by default (test/helpers/fault-seed.ts: the seed is printed, JOINTBAN_FAULT_SEED=<seed>
 * replays it, JOINTBAN_FAULT_SEED=random draws another; CRASH_KILLS=<n> runs longer).
 *
 * After every kill, on the data directory exactly as the crash left it:
 *   - every listing acknowledged with 201 is stored, with the status its acknowledged retraction
 *     (if any) gave it;
 *   - every log's seq is 1..n without a gap;
 *   - nothing is half-present: no listing entry without its listing row and all its tokens, no
 *     listing row without its entry, no retraction entry without its effect, and back;
 *   - the store verifies from the first entry (`verifyDataDir`, the code of `jointban verify`);
 *     and, independently of it, alpha's leaves are rehashed, the RFC 9162 root is rebuilt with
 *     CompactRange and compared with the latest signed checkpoint, whose note signature is checked
 *     with `openCheckpoint`.
 * After every restart, over HTTP: every listing acknowledged since the previous restart, and a
 * sample of older ones (all of them after the last restart), answers GET /v1/listings/:id with
 * 200, its status and its tokens; and the restarted node has signed a checkpoint covering
 * everything the crash left unsigned.
 *
 * alpha runs from a warm process (child-node.ts `prewarm`): its modules are loaded ahead of time,
 * so dozens of restarts fit the suite's time budget; the data directory and port are untouched
 * until the previous process is dead.
 * At the end: beta and the association converge to alpha's checkpoint (size and root) and alpha to
 * beta's, every acknowledged listing is on every node with the same status, no node recorded
 * misbehaviour, SIGTERM stops alpha cleanly, and `jointban verify` passes on its data directory.
 *
 * Writes that were not acknowledged (in flight at the kill) may or may not be there; the
 * half-presence checks hold for every row, acknowledged or not.
 */
import SQLite from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyDataDir } from '../../src/cli/verify.js';
import { loadConfig } from '../../src/config/load.js';
import { toBase64 } from '../../src/crypto/encoding.js';
import { logOrigin } from '../../src/log/checkpoint.js';
import { readKeyFile } from '../../src/store/key-file.js';
import { childNode, type ChildNode } from '../helpers/child-node.js';
import {
  expectNone,
  lostAcks as lostAckedListings,
  ownLogProblems as ownLogRowProblems,
  STORE_QUERIES,
  storeProblems as storeRowProblems,
  type EntryRow,
  type ListingRowLite,
  type StoreRows,
} from '../helpers/crash-store.js';
import { runCliJson } from '../helpers/cli.js';
import { ackAnswerProblem, crashWriters, type CrashAck } from '../helpers/crash-writers.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { paymentAccount } from '../helpers/fixtures.js';
import { FAULT_SEED_ENV, faultSeed } from '../helpers/fault-seed.js';
import { prng } from '../helpers/prng.js';

/** Kills while clients stream writes; kills during start-up come on top of these. */
const KILLS = Number(process.env.CRASH_KILLS ?? 30);
const SEED = faultSeed('crash test');
const WRITERS = 4;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Ack = CrashAck;

/** The rows the shared checks read (test/helpers/crash-store.ts), straight from the SQLite file. */
function sqliteRows(db: SQLite.Database): StoreRows {
  return {
    entries: db.prepare(STORE_QUERIES.entries).all() as EntryRow[],
    listings: db.prepare(STORE_QUERIES.listings).all() as ListingRowLite[],
    tokenCounts: db.prepare(STORE_QUERIES.tokenCounts).all() as StoreRows['tokenCounts'],
  };
}

/** Everything wrong with a store's shape: gaps, half-present writes. Empty when sound. */
function storeProblems(db: SQLite.Database): string[] {
  return storeRowProblems(sqliteRows(db));
}

/** Acknowledged listings missing from a store or with the wrong status. */
function lostAcks(db: SQLite.Database, acks: Iterable<Ack>): string[] {
  return lostAckedListings(db.prepare('SELECT id, status FROM listings').all() as { id: string; status: string }[], acks);
}

function latestCheckpoint(db: SQLite.Database, origin: string): { size: number; root: Buffer; note: string } | undefined {
  return db.prepare('SELECT size, root, note FROM checkpoints WHERE origin = ? ORDER BY size DESC LIMIT 1').get(origin) as { size: number; root: Buffer; note: string } | undefined;
}

function logSize(db: SQLite.Database, origin: string): number {
  return (db.prepare('SELECT coalesce(max(seq), 0) AS n FROM log_entries WHERE origin = ?').get(origin) as { n: number }).n;
}

/** Independent of `jointban verify`: the origin's tree rebuilt from the file, against its latest checkpoint (crash-store.ts). */
function ownLogProblems(db: SQLite.Database, origin: string, verifier: { name: string; publicKey: Uint8Array }): string[] {
  const rows = db.prepare('SELECT seq, bytes FROM log_entries WHERE origin = ? ORDER BY seq').all(origin) as { seq: number; bytes: Buffer }[];
  return ownLogRowProblems(origin, rows, latestCheckpoint(db, origin), verifier);
}

let fed: TestFederation | undefined;
let child: ChildNode | undefined;

afterAll(async () => {
  await child?.dispose();
  await fed?.stop();
});

describe('crash safety: alpha SIGKILLed at random moments while it lists, retracts and syncs', () => {
  it(`loses no acknowledged write and keeps a verifiable, gap-free log over ${KILLS}+ kills`, { timeout: 600_000 }, async () => {
    const rnd = prng(SEED);
    const between = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    process.stdout.write(`crash test: seed ${SEED}, ${KILLS} kills under load\n`);

    const f = await createFederation(2);
    fed = f;
    const [alpha, beta] = f.nodes as [FedNode, FedNode];
    const config = loadConfig(alpha.dataDir, {});
    const verifier = { name: logOrigin(config.federation, 'alpha'), publicKey: readKeyFile(config.signingKeyFile).publicKey };
    await f.stopNode(alpha);
    const node = childNode({ dataDir: alpha.dataDir, env: { JOINTBAN_LOG_LEVEL: 'warn' } });
    child = node;
    node.prewarm();

    const betaAcks: string[] = [];
    let life = 0;
    let busyKills = 0;
    let bootKills = 0;
    let httpCheckedUpTo = 0;
    const history: string[] = [];

    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${node.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${alpha.writeKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(20_000),
      });

    const clients = crashWriters({ call, rnd, life: () => life, prefix: 'crash' });
    const { acks, unexpected } = clients;

    /** Clients stream at alpha until told to stop; beta lists now and then so alpha ingests too. */
    const stream = (stop: { now: boolean }) => {
      const writers = Array.from({ length: WRITERS }, async () => {
        while (!stop.now) await clients.next();
      });
      const peer = (async () => {
        while (!stop.now) {
          betaAcks.push((await f.list(beta, [paymentAccount(`alipay:beta-${betaAcks.length + 1}`)])).id);
          await sleep(between(50, 250));
        }
      })();
      return Promise.all([...writers, peer]);
    };

    /** The data directory as the crash left it: nothing lost, nothing half-written, verifiable. */
    const checkCrashed = async (why: string) => {
      const db = new SQLite(config.databaseFile, { readonly: true, fileMustExist: true });
      try {
        const problems = [...storeProblems(db), ...lostAcks(db, acks.values()), ...ownLogProblems(db, 'alpha', verifier)];
        expectNone(problems, `after ${why}: the store as the crash left it`);
      } finally {
        db.close();
      }
      const verified = await verifyDataDir(alpha.dataDir);
      const failed = verified.results.filter((r) => !r.ok).map((r) => `${r.origin}: ${r.failures.map((x) => `${x.kind} ${x.message}`).join('; ')}`);
      expectNone(failed, `after ${why}: jointban verify of the crashed data directory`);
    };

    /** After a restart: the crash's unsigned entries are signed, and acknowledged listings answer over HTTP. */
    const checkRestarted = async (everything = false) => {
      const db = new SQLite(config.databaseFile, { readonly: true, fileMustExist: true });
      try {
        const size = logSize(db, 'alpha');
        expect(latestCheckpoint(db, 'alpha')?.size ?? 0, `life ${life}: the restarted node signs a checkpoint over all ${size} entries`).toBe(size);
      } finally {
        db.close();
      }
      const all = [...acks.values()];
      const fresh = all.filter((a) => a.life > httpCheckedUpTo);
      const older = all.filter((a) => a.life <= httpCheckedUpTo);
      // Older ones were checked after an earlier restart and are checked in the store after every
      // kill; a sample of them is asked again each time, and all of them after the last restart.
      const sample = everything ? older : Array.from({ length: Math.min(10, older.length) }, () => older[Math.floor(rnd() * older.length)]!);
      const queue = [...fresh, ...sample];
      const problems: string[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let ack = queue.pop(); ack; ack = queue.pop()) {
            let res: Response | undefined;
            for (let attempt = 0; attempt < 3 && !res; attempt++) res = await call('GET', `/v1/listings/${ack.id}`).catch(() => undefined);
            if (!res) {
              problems.push(`GET ${ack.id}: no answer in 3 attempts`);
              continue;
            }
            const problem = await ackAnswerProblem(ack, res);
            if (problem !== undefined) problems.push(problem);
          }
        }),
      );
      expectNone(problems, `life ${life}: acknowledged listings over HTTP after the restart`);
      httpCheckedUpTo = life - 1;
    };

    try {
      while (busyKills < KILLS) {
        if (rnd() < 0.15) {
          // A kill during start-up: migrations, the checkpoint signed for what the last crash left
          // unsigned, the first sync rounds.
          life += 1;
          const wait = between(0, 600);
          node.spawnOnly();
          node.prewarm();
          await sleep(wait);
          await node.kill();
          bootKills += 1;
          history.push(`life ${life}: killed ${wait} ms after spawn`);
          await checkCrashed(`a kill ${wait} ms into start-up (life ${life})`);
          continue;
        }
        life += 1;
        const started = Date.now();
        await node.start();
        const startMs = Date.now() - started;
        node.prewarm();
        let mark = Date.now();
        await checkRestarted();
        const restartCheckMs = Date.now() - mark;
        const stop = { now: false };
        const before = { acks: acks.size, uncertain: clients.uncertain };
        const streaming = stream(stop);
        const wait = between(100, 800);
        await sleep(wait);
        const killed = node.kill();
        stop.now = true;
        await killed;
        mark = Date.now();
        await streaming;
        const drainMs = Date.now() - mark;
        busyKills += 1;
        expectNone(unexpected, 'answers other than 201/200 or a lost connection');
        mark = Date.now();
        await checkCrashed(`kill ${busyKills} (life ${life}, ${wait} ms into streaming)`);
        history.push(
          `life ${life}: ready in ${startMs} ms, killed after ${wait} ms of streaming, ${acks.size - before.acks} new acks, ${clients.uncertain - before.uncertain} unanswered (checks ${restartCheckMs} + ${Date.now() - mark} ms, drain ${drainMs} ms)`,
        );
      }
      // The last restart, then the whole federation converges without anyone doing anything.
      life += 1;
      await node.start();
      await checkRestarted(true);
      const childDb = new SQLite(config.databaseFile, { readonly: true, fileMustExist: true });
      try {
        const heads = (db: SQLite.Database) =>
          ['alpha', 'beta'].map((o) => {
            const cp = latestCheckpoint(db, o);
            return `${o}:${logSize(db, o)}/${cp?.size ?? 0}/${cp ? toBase64(new Uint8Array(cp.root)) : '-'}`;
          });
        const converged = () => {
          const want = JSON.stringify(heads(childDb));
          return want === JSON.stringify(heads(beta.node.database.sqlite)) && want === JSON.stringify(heads(f.association.node.database.sqlite)) && logSize(childDb, 'beta') === betaAcks.length;
        };
        await waitFor(converged, { timeoutMs: 60_000, intervalMs: 100, message: "beta and the association to reach alpha's checkpoint, and alpha beta's" }).catch((err: unknown) => {
          const now = { alpha: heads(childDb), beta: heads(beta.node.database.sqlite), association: heads(f.association.node.database.sqlite), betaListed: betaAcks.length };
          throw new Error(`${(err as Error).message}; now: ${JSON.stringify(now)}`);
        });
        const alphaStatus = new Map((childDb.prepare("SELECT id, status FROM listings WHERE origin = 'alpha'").all() as { id: string; status: string }[]).map((r) => [r.id, r.status]));
        for (const peer of [beta, f.association]) {
          expectNone(lostAcks(peer.node.database.sqlite, acks.values()), `acknowledged listings on ${peer.member}`);
          const peerStatus = peer.node.database.sqlite.prepare("SELECT id, status FROM listings WHERE origin = 'alpha'").all() as { id: string; status: string }[];
          expect(new Map(peerStatus.map((r) => [r.id, r.status])), `${peer.member} projects alpha's log as alpha does`).toEqual(alphaStatus);
          expectNone((await f.status(peer)).misbehaviour, `misbehaviour recorded by ${peer.member}`);
        }
        const onAlpha = new Set((childDb.prepare("SELECT id FROM listings WHERE origin = 'beta'").all() as { id: string }[]).map((r) => r.id));
        expectNone(
          betaAcks.filter((id) => !onAlpha.has(id)),
          "beta's listings missing on alpha",
        );
        expectNone(storeProblems(childDb), 'the final store of alpha');
      } finally {
        childDb.close();
      }
      const statusRes = await fetch(`${node.url}/v1/federation/status`, { headers: { authorization: `Bearer ${alpha.adminKey}` } });
      expectNone(((await statusRes.json()) as { misbehaviour: unknown[] }).misbehaviour, 'misbehaviour recorded by alpha');

      // Last, a graceful stop under the same load: SIGTERM while the clients stream. In-flight
      // requests finish, the process exits 0, nothing acknowledged is lost, and nothing the node
      // acknowledged is left without a signed checkpoint (a restart is not needed to publish it).
      const stop = { now: false };
      const streaming = stream(stop);
      const before = acks.size;
      await waitFor(() => acks.size >= before + 3, { timeoutMs: 20_000, intervalMs: 10, message: 'three more listings acknowledged before the SIGTERM' });
      const stopped = node.stop();
      stop.now = true;
      const exit = await stopped;
      await streaming;
      expect(exit, `SIGTERM stops alpha cleanly under load:\n${node.output()}`).toEqual({ code: 0, signal: null });
      expectNone(unexpected, 'answers other than 201/200 or a lost connection during the graceful stop');
      const stoppedDb = new SQLite(config.databaseFile, { readonly: true, fileMustExist: true });
      try {
        expectNone([...storeProblems(stoppedDb), ...lostAcks(stoppedDb, acks.values()), ...ownLogProblems(stoppedDb, 'alpha', verifier)], 'the store after a graceful stop');
        const size = logSize(stoppedDb, 'alpha');
        expect(latestCheckpoint(stoppedDb, 'alpha')?.size, `after a graceful stop, alpha's latest checkpoint covers all ${size} entries of its log`).toBe(size);
      } finally {
        stoppedDb.close();
      }
      const verified = await runCliJson<{ ok: boolean; origins: { origin: string; ok: boolean; entries: number }[] }>(['verify', '--data-dir', alpha.dataDir, '--json']);
      expect(verified.ok, JSON.stringify(verified.origins)).toBe(true);
      for (const peer of [beta, f.association]) {
        const results = (await verifyDataDir(peer.dataDir)).results;
        expectNone(
          results.filter((r) => !r.ok),
          `verify ${peer.member}`,
        );
      }
      const errors = node
        .output()
        .split('\n')
        .filter((l) => /"level":(50|60)/.test(l));
      expectNone(errors, 'error-level log lines of alpha');
      expect(busyKills).toBeGreaterThanOrEqual(KILLS);
      if (process.env.CRASH_VERBOSE) process.stdout.write(`${history.join('\n')}\n`);
      process.stdout.write(
        `crash test: seed ${SEED}: ${busyKills + bootKills} SIGKILLs (${busyKills} while streaming, ${bootKills} during start-up), ${acks.size} listings acknowledged, ${[...acks.values()].filter((a) => a.retracted !== 'no').length} retractions sent, ${clients.uncertain} writes unanswered, ${betaAcks.length} beta listings ingested\n`,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(
        `crash test failed with seed ${SEED} (replay: ${FAULT_SEED_ENV}=${SEED}) at life ${life}: ${message}\n--- last lives ---\n${history.slice(-8).join('\n')}\n--- alpha's output (tail) ---\n${node.output().slice(-3000)}`,
        { cause: err },
      );
    }
  });
});
