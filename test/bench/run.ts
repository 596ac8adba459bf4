/**
 * `npm run bench [-- --quick] [-- --profile]`: POST /v1/check of a node holding 10M tokens
 * against a bare hono echo on the same server stack, measured in the same run, plus in-process
 * figures against baselines in the same process. Prints a table and writes
 * bench-results/latest.json. Exits non-zero when any request failed or a sanity check did not hold.
 *
 * Processes: this orchestrator, the seeder (seed.ts), the node (server-node.ts), the echo server (server-echo.ts) and,
 * for each measured run, an autocannon child (load.ts). Every child is killed on the way out and
 * the temporary data directory removed, whatever happened. See docs/BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TOKEN_SNAPSHOT_FILE } from '../../src/store/token-snapshot.js';
import { killAll, ServerChild, spawnTracked } from './child-protocol.js';
import type { OpFigure, OpName } from './in-process.js';
import type { LoadArgs, LoadFigures } from './load.js';
import { summariseProfile, type CpuProfile } from './profile-summary.js';
import { aggregate, formatResults, mean, type BenchResults, type ProfileFigures, type RoundFigures } from './results.js';
import type { SeedArgs, SeedResult } from './seed.js';
import type { NodeChildArgs, NodeChildReady } from './server-node.js';
import { checkBodies, MIX } from './synthetic.js';
import { copyStoreToPostgres } from './seed-postgres.js';
import { adminQuery, databaseUrl, findPostgresBin, startTestCluster, type TestCluster } from '../helpers/postgres-cluster.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const script = (name: string) => fileURLToPath(new URL(`./${name}.js`, import.meta.url));

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    listings: { type: 'string' },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    store: { type: 'string' },
    // postgres: the seeded store is copied into a throwaway PostgreSQL cluster (seed-postgres.ts)
    // and the node runs on it; the echo baseline and everything else are the same.
    engine: { type: 'string', default: 'sqlite' },
  },
  strict: true,
});
if (flags.engine !== 'sqlite' && flags.engine !== 'postgres') throw new Error(`--engine: sqlite or postgres, not ${JSON.stringify(flags.engine)}`);
const engine = flags.engine;

function wholeNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^[1-9][0-9]*$/.test(text)) throw new Error(`--${name}: must be a positive whole number, not ${JSON.stringify(text)}`);
  return Number(text);
}

const mode = flags.quick ? 'quick' : 'full';
const settings = {
  // Full: 3.34M listings × 3 tokens ≈ 10M active tokens, the size the check must hold (issue 6).
  listings: wholeNumber('listings', flags.listings, flags.quick ? 10_000 : 3_340_000),
  connections: 50,
  durationS: wholeNumber('duration', flags.duration, flags.quick ? 5 : 20),
  warmupS: flags.quick ? 2 : 5,
  rounds: wholeNumber('rounds', flags.rounds, flags.quick ? 1 : 2),
  bodyPool: 20_000,
  seed: 1,
  inProcess: { rounds: flags.quick ? 400 : 1500, warmupRounds: 200, batchUs: 200 },
};

const temp = mkdtempSync(join(tmpdir(), 'jointban-bench-'));
let cleanedUp = false;
let cluster: TestCluster | undefined;
function cleanUp(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  killAll();
  rmSync(temp, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping\n`);
    cleanUp();
    process.exit(130);
  });
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

async function runLoad(args: LoadArgs): Promise<LoadFigures> {
  const child = spawnTracked([script('load'), JSON.stringify(args)], 'load');
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`load generator exited ${String(code)}`);
  return JSON.parse(output.trim().split('\n').at(-1) ?? '') as LoadFigures;
}

/** Runs a child to completion and returns the JSON of its last stdout line. */
async function runToEnd<T>(args: string[]): Promise<T> {
  const child = spawnTracked(args, 'load');
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${args[0] ?? 'child'} exited ${String(code)}`);
  return JSON.parse(output.trim().split('\n').at(-1) ?? '') as T;
}

interface Target {
  name: 'echo' | 'check';
  server: ServerChild<{ url: string }>;
  url: string;
}

/** One warm-up run (discarded), then the measured run with the server's CPU time around it. */
async function measure(target: Target, key: string): Promise<RoundFigures> {
  const base = { url: target.url, key, connections: settings.connections, listed: settings.listings, pool: settings.bodyPool, seed: settings.seed };
  log(`${target.name}: warm-up ${settings.warmupS} s`);
  await runLoad({ ...base, durationS: settings.warmupS });
  log(`${target.name}: measuring ${settings.durationS} s`);
  const before = await target.server.command<{ user: number; system: number }>({ cmd: 'cpu' });
  const load = await runLoad({ ...base, durationS: settings.durationS });
  const after = await target.server.command<{ user: number; system: number }>({ cmd: 'cpu' });
  const requests = Math.max(1, load.requests);
  return {
    load,
    serverCpuUsPerRequest: (after.user - before.user + after.system - before.system) / requests,
    serverSystemCpuUsPerRequest: (after.system - before.system) / requests,
  };
}

/** Which code was measured: the commit, and how many files differed from it. */
function codeVersion(): { commit: string; changedFiles: number } {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  const status = git('status', '--porcelain');
  if (head.status !== 0 || status.status !== 0) return { commit: 'unknown', changedFiles: 0 };
  return { commit: head.stdout.trim(), changedFiles: status.stdout.split('\n').filter((l) => l.trim() !== '').length };
}

/** A V8 CPU profile of one server under the same load as a measured run; not part of the figures. */
async function profileUnderLoad(target: Target, key: string): Promise<ProfileFigures> {
  const file = `bench-results/${target.name}.cpuprofile`;
  log(`${target.name}: profiling for ${settings.durationS} s (not part of the figures)`);
  await target.server.command({ cmd: 'profile-start', intervalUs: 250 });
  const load = await runLoad({ url: target.url, key, connections: settings.connections, durationS: settings.durationS, listed: settings.listings, pool: settings.bodyPool, seed: settings.seed });
  await target.server.command({ cmd: 'profile-stop', file: join(ROOT, file) });
  return { file, requests: load.requests, requestsPerSec: load.requestsPerSec, summary: summariseProfile(JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as CpuProfile) };
}

/** Before measuring anything: hits are hits and misses are misses, and the echo echoes. */
async function sanityCheck(node: NodeChildReady, echoUrl: string): Promise<string[]> {
  const problems: string[] = [];
  const bodies = checkBodies(settings.listings, settings.bodyPool, settings.seed);
  for (const expected of ['deny', 'review', 'allow'] as const) {
    for (const body of bodies.filter((b) => b.expected === expected).slice(0, 10)) {
      const res = await fetch(`${node.url}/v1/check`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${node.key}` }, body: body.json });
      const answer = (await res.json()) as { decision?: string };
      if (res.status !== 200 || answer.decision !== expected) problems.push(`sanity: a body expected to give ${expected} gave ${res.status} ${String(answer.decision)}`);
    }
  }
  const sample = bodies[0]!.json;
  const echoed = await (await fetch(`${echoUrl}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample })).text();
  if (echoed !== sample) problems.push('sanity: the echo server did not return the body it was sent');
  return problems;
}

async function main(): Promise<number> {
  const startedAt = new Date().toISOString();
  // Read now, when `npm run bench` has just built: the tree may change while a long run goes on.
  const code = codeVersion();
  const loadAverageAtStart = loadavg();
  log(`${mode}: starting the echo server and a node with ${settings.listings} listings (temp dir ${temp})`);
  // --store DIR: a data directory seeded by an earlier run's seed.js, reused as it is (seeding
  // 10M tokens takes most of a full run); --listings must then be the count it was seeded with.
  const dataDir = flags.store ?? join(temp, 'node');
  const seedArgs: SeedArgs = { dataDir, listings: settings.listings, pool: settings.bodyPool, seed: settings.seed, reuse: flags.store !== undefined };
  const seeded = await runToEnd<SeedResult>([script('seed'), JSON.stringify(seedArgs)]);
  log(`seeded ${seeded.listings} listings (${seeded.tokens} tokens) in ${(seeded.seedMs / 1000).toFixed(1)} s; bare read of the tokens ${(seeded.bareTokenReadMs / 1000).toFixed(2)} s`);
  if (engine === 'postgres') {
    const { bin, where } = findPostgresBin();
    if (bin === undefined) throw new Error(`--engine postgres: no initdb and pg_ctl in ${where} (apt-get install postgresql)`);
    // Durable (fsync on), as a production server: the node's writes are not what this measures, but
    // its start-up and checks should meet the server a platform runs.
    cluster = await startTestCluster(bin, { durable: true });
    await adminQuery(cluster.url, 'CREATE DATABASE bench');
    const copied = await copyStoreToPostgres(dataDir, databaseUrl(cluster.url, 'bench'));
    log(`copied ${copied.rows} rows into PostgreSQL in ${(copied.copyMs / 1000).toFixed(1)} s`);
  }
  const bareNodeRssBytes = await runToEnd<number>(['-e', 'process.stdout.write(JSON.stringify(process.memoryUsage().rss))']);
  const echo = await ServerChild.start<{ url: string }>('echo server', script('server-echo'), {});
  const nodeArgs: NodeChildArgs = { dataDir, listings: settings.listings };
  // Started twice: first without a token filter snapshot (it reads every token row from SQLite and
  // writes one), then from the snapshot, as every later start of a node would.
  rmSync(join(dataDir, TOKEN_SNAPSHOT_FILE), { force: true });
  const cold = await ServerChild.start<NodeChildReady>('node (cold)', script('server-node'), nodeArgs);
  log(
    `node (no snapshot) ready ${(cold.info.startToReadyMs / 1000).toFixed(2)} s after its start, RSS ${(cold.info.rssBytes / 1e6).toFixed(0)} MB, tokens from ${String(cold.info.tokenFilter.source)}`,
  );
  await cold.stop();
  const node = await ServerChild.start<NodeChildReady>('node', script('server-node'), nodeArgs);
  log(
    `node ready at ${node.info.url} ${(node.info.startToReadyMs / 1000).toFixed(2)} s after its start, RSS ${(node.info.rssBytes / 1e6).toFixed(0)} MB, tokens from ${String(node.info.tokenFilter.source)}`,
  );

  const problems = await sanityCheck(node.info, echo.info.url);
  if (problems.length > 0) throw new Error(problems.join('\n'));

  const targets: Record<'echo' | 'check', Target> = {
    echo: { name: 'echo', server: echo, url: `${echo.info.url}/echo` },
    check: { name: 'check', server: node as ServerChild<{ url: string }>, url: `${node.info.url}/v1/check` },
  };
  const rounds: Record<'echo' | 'check', RoundFigures[]> = { echo: [], check: [] };
  for (let round = 0; round < settings.rounds; round++) {
    // ABBA order across rounds, so a drift in the machine's load does not favour one side.
    const order = round % 2 === 0 ? (['echo', 'check'] as const) : (['check', 'echo'] as const);
    for (const name of order) rounds[name].push(await measure(targets[name], node.info.key));
  }

  log('in-process figures');
  const ops = await node.command<Record<OpName, OpFigure>>({ cmd: 'inproc', ...settings.inProcess, pool: settings.bodyPool, seed: settings.seed });

  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  let profile: BenchResults['profile'];
  if (flags.profile) {
    profile = { echo: await profileUnderLoad(targets.echo, node.info.key), check: await profileUnderLoad(targets.check, node.info.key) };
  }

  await node.stop();
  await echo.stop();

  const echoFigures = aggregate(rounds.echo);
  const checkFigures = aggregate(rounds.check);
  for (const [name, f] of [
    ['echo', echoFigures],
    ['check', checkFigures],
  ] as const) {
    if (f.errors + f.timeouts + f.non2xx > 0) problems.push(`${name}: ${f.errors} errors, ${f.timeouts} timeouts, ${f.non2xx} non-2xx responses`);
  }
  const sizes = checkBodies(settings.listings, settings.bodyPool, settings.seed).map((b) => Buffer.byteLength(b.json));
  const results: BenchResults = {
    mode,
    engine,
    startedAt,
    code,
    machine: { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}`, loadAverageAtStart },
    settings: {
      listings: settings.listings,
      connections: settings.connections,
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      rounds: settings.rounds,
      bodyPool: settings.bodyPool,
      bodyBytes: { min: Math.min(...sizes), max: Math.max(...sizes), mean: Math.round(mean(sizes)) },
      mix: { ...MIX },
    },
    setup: {
      seedMs: seeded.seedMs,
      seedListingsPerSec: settings.listings / (seeded.seedMs / 1000),
      databaseBytes: seeded.databaseBytes,
      tokens: seeded.tokens,
      bareTokenReadMs: seeded.bareTokenReadMs,
      startToReadyMs: node.info.startToReadyMs,
      rssBytes: node.info.rssBytes,
      heapUsedBytes: node.info.heapUsedBytes,
      cold: { startToReadyMs: cold.info.startToReadyMs, rssBytes: cold.info.rssBytes, source: cold.info.tokenFilter.source },
      bareNodeRssBytes,
      tokenFilter: node.info.tokenFilter,
    },
    http: {
      echo: echoFigures,
      check: checkFigures,
      ratios: {
        requestsPerSec: checkFigures.requestsPerSec / echoFigures.requestsPerSec,
        p50: checkFigures.p50Ms / echoFigures.p50Ms,
        p99: checkFigures.p99Ms / echoFigures.p99Ms,
        serverCpuPerRequest: checkFigures.serverCpuUsPerRequest / echoFigures.serverCpuUsPerRequest,
        requestsPerSecByRound: rounds.check.map((c, i) => c.load.requestsPerSec / rounds.echo[i]!.load.requestsPerSec),
      },
    },
    inProcess: {
      ops,
      ratios: {
        checkVsSqlite: ops.check.medianUs / ops.sqlite.medianUs,
        checkVsJson: ops.check.medianUs / ops.json.medianUs,
        appCheckVsAppEcho: ops.appCheck.medianUs / ops.appEcho.medianUs,
        tokensForShareOfCheck: ops.tokensFor.medianUs / ops.check.medianUs,
        fastMatchShareOfCheck: ops.fastMatch.medianUs / ops.check.medianUs,
        matchTokensVsFastMatch: ops.matchTokens.medianUs / ops.fastMatch.medianUs,
        authenticateVsSqlite: ops.authenticate.medianUs / ops.sqlite.medianUs,
      },
    },
    ...(profile ? { profile } : {}),
    ok: problems.length === 0,
    problems,
  };
  writeFileSync(join(ROOT, 'bench-results', 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${formatResults(results)}\n\nfigures written to bench-results/latest.json\n`);
  return results.ok ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`bench: failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  cleanUp();
  await cluster?.stop();
}
