/**
 * Crash safety on PostgreSQL: "No acknowledged write is lost: a node killed at any moment restarts
 * with every listing it acknowledged, and its log verifies" (DESIGN.md), for a node whose data is in
 * a database of the run's throwaway cluster (test/global-setup.ts; skipped with one line where
 * PostgreSQL's binaries are missing). The SQLite twin with a whole federation is crash.test.ts.
 *
 * alpha runs as a child process (`jointban start`, child-node.ts). Clients stream listings and
 * retractions at it, several in flight, and at a seeded random moment it is SIGKILLed; now and
 * then the kill lands during start-up instead (test/helpers/fault-seed.ts: the seed is printed,
 * JOINTBAN_FAULT_SEED replays it; CRASH_KILLS_PG=<n> runs longer). After every kill, on the database
 * exactly as the crash left it: every listing acknowledged with 201 is stored with the status its
 * acknowledged retraction gave it, every log is 1..n without a gap, nothing is half-present
 * (crash-store.ts), and alpha's tree rebuilt from its stored entries has the root of its latest
 * signed checkpoint, whose note verifies with alpha's key; and the database verifies through the
 * code of `jointban verify` (`verifyDataDir`). After the last restart every acknowledged listing
 * answers over HTTP, and SIGTERM stops alpha cleanly with a checkpoint over its whole log.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyDataDir } from '../../src/cli/verify.js';
import { loadConfig } from '../../src/config/load.js';
import { initDataDir } from '../../src/init.js';
import { logOrigin } from '../../src/log/checkpoint.js';
import { readKeyFile } from '../../src/store/key-file.js';
import { openDatabase } from '../../src/store/database.js';
import { childNode, type ChildNode } from '../helpers/child-node.js';
import { runCliJson } from '../helpers/cli.js';
import { expectNone, latestCheckpointOf, lostAcks, ownLogProblems, storeProblems, storeRowsOf } from '../helpers/crash-store.js';
import { ackAnswerProblem, crashWriters, type CrashAck } from '../helpers/crash-writers.js';
import { FAULT_SEED_ENV, faultSeed } from '../helpers/fault-seed.js';
import { freePort } from '../helpers/postgres-cluster.js';
import { createTestDatabase, postgresCanRun, type TestDatabase } from '../helpers/postgres.js';
import { prng } from '../helpers/prng.js';
import { TEST_EPOCH_SECRET, tempDir } from '../helpers/test-node.js';

const canRun = postgresCanRun('the crash test on PostgreSQL');
const KILLS = Number(process.env.CRASH_KILLS_PG ?? 8);
const WRITERS = 4;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Ack = CrashAck;

let child: ChildNode | undefined;
let database: TestDatabase | undefined;
let dataDir: string | undefined;
afterAll(async () => {
  await child?.dispose();
  await database?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe.runIf(canRun)('crash safety on PostgreSQL: alpha SIGKILLed at random moments while it lists and retracts', () => {
  it(`loses no acknowledged write and keeps a verifiable, gap-free log over ${KILLS}+ kills`, { timeout: 300_000 }, async () => {
    const seed = faultSeed('crash test on PostgreSQL');
    const rnd = prng(seed);
    const between = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));

    database = await createTestDatabase();
    dataDir = tempDir('jointban-crash-pg-');
    await initDataDir({
      dataDir,
      member: 'alpha',
      port: await freePort(),
      epochs: [{ epoch: 1, secret: TEST_EPOCH_SECRET }],
      extra: { database: { driver: 'postgres', url: database.url, poolSize: 4 } },
    });
    const config = loadConfig(dataDir, {});
    const verifier = { name: logOrigin(config.federation, 'alpha'), publicKey: readKeyFile(config.signingKeyFile).publicKey };
    const node = childNode({ dataDir, env: { JOINTBAN_LOG_LEVEL: 'warn' } });
    child = node;
    node.prewarm();

    const history: string[] = [];
    let writeKey = '';
    let life = 0;
    let busyKills = 0;
    let bootKills = 0;

    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${node.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${writeKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(20_000),
      });

    const clients = crashWriters({ call, rnd, life: () => life, prefix: 'crash-pg' });
    const { acks, unexpected } = clients;

    const stream = (stop: { now: boolean }) =>
      Promise.all(
        Array.from({ length: WRITERS }, async () => {
          while (!stop.now) await clients.next();
        }),
      );

    /** The database as the crash left it: nothing lost, nothing half-written, verifiable. */
    const checkCrashed = async (why: string) => {
      const handle = await openDatabase({ driver: 'postgres', url: database!.url, poolSize: 2, connectTimeoutMs: 5_000, migrate: false });
      try {
        const rows = await storeRowsOf(handle.db);
        const own = rows.entries.filter((e) => e.origin === 'alpha');
        const checkpoint = await latestCheckpointOf(handle.db, 'alpha');
        expectNone([...storeProblems(rows), ...lostAcks(rows.listings, acks.values()), ...ownLogProblems('alpha', own, checkpoint, verifier)], `after ${why}: the store as the crash left it`);
        return { size: own.length, signed: checkpoint?.size ?? 0 };
      } finally {
        await handle.close();
      }
    };

    /** The same database through `jointban verify`'s code (read-only, one snapshot). */
    const checkVerifies = async (why: string) => {
      const verified = await verifyDataDir(dataDir!);
      const failed = verified.results.filter((r) => !r.ok).map((r) => `${r.origin}: ${r.failures.map((x) => `${x.kind} ${x.message}`).join('; ')}`);
      expectNone(failed, `after ${why}: jointban verify of the crashed node's database`);
    };

    const checkOverHttp = async (which: Ack[]) => {
      const problems: string[] = [];
      for (const ack of which) {
        const problem = await ackAnswerProblem(ack, await call('GET', `/v1/listings/${ack.id}`));
        if (problem !== undefined) problems.push(problem);
      }
      expectNone(problems, `life ${life}: acknowledged listings over HTTP after the restart`);
    };

    try {
      // A write key, made as an operator would (it is stored in the database).
      writeKey = (await runCliJson<{ key: string }>(['apikey', 'create', '--data-dir', dataDir, '--scope', 'write', '--name', 'crash test'])).key;
      life += 1;
      await node.start();
      node.prewarm();
      for (;;) {
        const stop = { now: false };
        const before = acks.size;
        const streaming = stream(stop);
        const wait = between(100, 800);
        await sleep(wait);
        const killed = node.kill();
        stop.now = true;
        await killed;
        await streaming;
        busyKills += 1;
        expectNone(unexpected, 'answers other than 201/200 or a lost connection');
        await checkCrashed(`kill ${busyKills} (life ${life}, ${wait} ms into streaming)`);
        await checkVerifies(`kill ${busyKills} (life ${life})`);
        history.push(`life ${life}: killed after ${wait} ms of streaming, ${acks.size - before} new acks`);
        if (busyKills >= KILLS) break;
        if (rnd() < 0.15) {
          // A kill during start-up: migrations, the checkpoint signed for what the last crash left unsigned.
          life += 1;
          const bootWait = between(0, 600);
          node.spawnOnly();
          node.prewarm();
          await sleep(bootWait);
          await node.kill();
          bootKills += 1;
          history.push(`life ${life}: killed ${bootWait} ms after spawn`);
          await checkCrashed(`a kill ${bootWait} ms into start-up (life ${life})`);
        }
        life += 1;
        await node.start();
        node.prewarm();
        await checkOverHttp([...acks.values()].filter((a) => a.life === life - 1 || rnd() < 0.1));
      }
      life += 1;
      await node.start();
      await checkOverHttp([...acks.values()]);
      const exit = await node.stop();
      expect(exit, `SIGTERM stops alpha cleanly:\n${node.output()}`).toEqual({ code: 0, signal: null });
      const stopped = await checkCrashed('the graceful stop');
      await checkVerifies('the graceful stop');
      expect(stopped.signed, `after a graceful stop, alpha's latest checkpoint covers all ${stopped.size} entries of its log`).toBe(stopped.size);
      expect(acks.size).toBeGreaterThan(0);
      process.stdout.write(
        `crash test on PostgreSQL: seed ${seed}: ${busyKills + bootKills} SIGKILLs (${busyKills} while streaming, ${bootKills} during start-up), ${acks.size} listings acknowledged, ${clients.uncertain} writes unanswered\n`,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(
        `crash test on PostgreSQL failed with seed ${seed} (replay: ${FAULT_SEED_ENV}=${seed}) at life ${life}: ${message}\n--- last lives ---\n${history.slice(-8).join('\n')}\n--- alpha's output (tail) ---\n${node.output().slice(-3000)}`,
        { cause: err },
      );
    }
  });
});
