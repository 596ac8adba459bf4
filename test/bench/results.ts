/**
 * The benchmark's figures as they are written to bench-results/latest.json, and the table printed
 * from them. Every headline figure is a ratio of the node against a baseline measured in the same
 * run: absolute numbers on a shared machine say more about the neighbours than about the node.
 */
import type { OpFigure, OpName } from './in-process.js';
import type { LoadFigures } from './load.js';
import type { ProfileSummary } from './profile-summary.js';

export interface RoundFigures {
  load: LoadFigures;
  /** Server CPU time (user + system, all threads) over the measured run, per request answered. */
  serverCpuUsPerRequest: number;
  /** The system (kernel) part of it: socket I/O, mostly. */
  serverSystemCpuUsPerRequest: number;
}

export interface TargetFigures {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuUsPerRequest: number;
  serverSystemCpuUsPerRequest: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  generatorCpu: number;
  rounds: RoundFigures[];
}

export interface ProfileFigures {
  file: string;
  /** Requests answered while the profiler ran (it slows the server: not a throughput figure). */
  requests: number;
  requestsPerSec: number;
  summary: ProfileSummary;
}

export interface BenchResults {
  mode: 'quick' | 'full';
  /** Where the node kept its data (`--engine`). */
  engine: 'sqlite' | 'postgres';
  startedAt: string;
  code: { commit: string; changedFiles: number };
  machine: { nproc: number; cpu: string; node: string; platform: string; loadAverageAtStart: number[] };
  settings: {
    listings: number;
    connections: number;
    durationS: number;
    warmupS: number;
    rounds: number;
    bodyPool: number;
    bodyBytes: { min: number; max: number; mean: number };
    mix: Record<string, number>;
  };
  setup: {
    seedMs: number;
    seedListingsPerSec: number;
    databaseBytes: number;
    tokens: number;
    /** Baseline of the start-up: every token row read with a bare prepared statement. */
    bareTokenReadMs: number;
    /** The node's process start to the first 200 from /readyz. */
    startToReadyMs: number;
    rssBytes: number;
    heapUsedBytes: number;
    /** The first start, without a snapshot: every token read from the database. */
    cold: { startToReadyMs: number; rssBytes: number; source: string | undefined };
    /** RSS of a bare `node -e` process, the baseline of rssBytes. */
    bareNodeRssBytes: number;
    tokenFilter: { tokens: number; bytes: number; source: string | undefined };
  };
  http: {
    echo: TargetFigures;
    check: TargetFigures;
    ratios: { requestsPerSec: number; p50: number; p99: number; serverCpuPerRequest: number; requestsPerSecByRound: number[] };
  };
  inProcess: {
    ops: Record<OpName, OpFigure>;
    ratios: {
      checkVsSqlite: number;
      checkVsJson: number;
      appCheckVsAppEcho: number;
      tokensForShareOfCheck: number;
      fastMatchShareOfCheck: number;
      matchTokensVsFastMatch: number;
      authenticateVsSqlite: number;
    };
  };
  profile?: { echo: ProfileFigures; check: ProfileFigures };
  ok: boolean;
  problems: string[];
}

export function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
}

export function aggregate(rounds: RoundFigures[]): TargetFigures {
  const sum = (f: (r: RoundFigures) => number) => rounds.reduce((s, r) => s + f(r), 0);
  return {
    requestsPerSec: mean(rounds.map((r) => r.load.requestsPerSec)),
    p50Ms: mean(rounds.map((r) => r.load.latencyMs.p50)),
    p99Ms: mean(rounds.map((r) => r.load.latencyMs.p99)),
    serverCpuUsPerRequest: mean(rounds.map((r) => r.serverCpuUsPerRequest)),
    serverSystemCpuUsPerRequest: mean(rounds.map((r) => r.serverSystemCpuUsPerRequest)),
    errors: sum((r) => r.load.errors),
    timeouts: sum((r) => r.load.timeouts),
    non2xx: sum((r) => r.load.non2xx),
    generatorCpu: mean(rounds.map((r) => r.load.generatorCpu)),
    rounds,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

const fixed = (n: number, digits: number) => n.toFixed(digits);
const ratio = (n: number) => `${n.toFixed(2)}×`;
const share = (n: number) => `${(n * 100).toFixed(1)}%`;

export function formatResults(r: BenchResults): string {
  const { echo, check, ratios } = r.http;
  const s = r.settings;
  const out: string[] = [];
  out.push(
    `jointban bench (${r.mode}, ${r.engine}): ${s.listings} listings, ${s.connections} connections, ${s.rounds} round(s) of ${s.durationS} s per server (+${s.warmupS} s warm-up), ` +
      `bodies of ${s.bodyBytes.min}-${s.bodyBytes.max} bytes`,
  );
  out.push(`code: ${r.code.commit}${r.code.changedFiles > 0 ? ` with ${r.code.changedFiles} changed or new files` : ''}; run started ${r.startedAt}`);
  out.push(`machine: ${r.machine.nproc} × ${r.machine.cpu}, Node ${r.machine.node}, load average at start ${r.machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`);
  const u = r.setup;
  out.push(`seeded ${s.listings} listings, ${u.tokens} tokens in ${fixed(u.seedMs / 1000, 1)} s (bare statements, seed.ts); database ${fixed(u.databaseBytes / 1e6, 1)} MB`);
  out.push('');
  out.push(`Node start-up on that store (target: ready ≤ 5 s, RSS ≤ 1.5 GB at 10M tokens)`);
  out.push(
    table([
      ['', 'node', 'baseline', 'node/baseline'],
      [
        `process start to /readyz 200, s, tokens from ${String(u.cold.source)} (no snapshot yet)`,
        fixed(u.cold.startToReadyMs / 1000, 2),
        fixed(u.bareTokenReadMs / 1000, 2),
        ratio(u.cold.startToReadyMs / u.bareTokenReadMs),
      ],
      [
        `process start to /readyz 200, s, tokens from ${String(u.tokenFilter.source)}`,
        fixed(u.startToReadyMs / 1000, 2),
        fixed(u.bareTokenReadMs / 1000, 2),
        ratio(u.startToReadyMs / u.bareTokenReadMs),
      ],
      ['  (baseline: a bare read of every token row)', '', '', ''],
      ['RSS when ready, MB, no snapshot', fixed(u.cold.rssBytes / 1e6, 0), fixed(u.bareNodeRssBytes / 1e6, 0), ratio(u.cold.rssBytes / u.bareNodeRssBytes)],
      ['RSS when ready, MB, measured node', fixed(u.rssBytes / 1e6, 0), fixed(u.bareNodeRssBytes / 1e6, 0), ratio(u.rssBytes / u.bareNodeRssBytes)],
      ['  (baseline: a bare node process)', '', '', ''],
    ]),
  );
  out.push(`JS heap used ${fixed(u.heapUsedBytes / 1e6, 0)} MB; token filter ${u.tokenFilter.tokens} tokens in ${fixed(u.tokenFilter.bytes / 1e6, 0)} MB of typed arrays`);
  out.push('');
  out.push('HTTP: POST /v1/check against a bare hono POST-JSON echo, same stack, same bodies');
  out.push(
    table([
      ['', 'echo', 'check', 'check/echo'],
      ['throughput, req/s', fixed(echo.requestsPerSec, 0), fixed(check.requestsPerSec, 0), ratio(ratios.requestsPerSec)],
      ['latency p50, ms', fixed(echo.p50Ms, 2), fixed(check.p50Ms, 2), ratio(ratios.p50)],
      ['latency p99, ms', fixed(echo.p99Ms, 2), fixed(check.p99Ms, 2), ratio(ratios.p99)],
      ['server CPU per request, µs', fixed(echo.serverCpuUsPerRequest, 0), fixed(check.serverCpuUsPerRequest, 0), ratio(ratios.serverCpuPerRequest)],
      ['  of which kernel (system), µs', fixed(echo.serverSystemCpuUsPerRequest, 0), fixed(check.serverSystemCpuUsPerRequest, 0), ''],
      ['errors / timeouts / non-2xx', `${echo.errors}/${echo.timeouts}/${echo.non2xx}`, `${check.errors}/${check.timeouts}/${check.non2xx}`, ''],
      ['load generator CPU, share of a core', share(echo.generatorCpu), share(check.generatorCpu), ''],
    ]),
  );
  if (ratios.requestsPerSecByRound.length > 1) out.push(`throughput ratio by round: ${ratios.requestsPerSecByRound.map((x) => ratio(x)).join(', ')}`);
  out.push('');
  const ops = r.inProcess.ops;
  const ir = r.inProcess.ratios;
  out.push('In-process (inside the node child; median time per call, batches interleaved)');
  out.push(table([['', 'µs'], ...Object.values(ops).map((op) => [op.label, fixed(op.medianUs, 1)])]));
  out.push(
    table([
      ['checks.check() / 3 point lookups', ratio(ir.checkVsSqlite)],
      ['checks.check() / JSON round-trip', ratio(ir.checkVsJson)],
      ['app.request(check) / app.request(echo)', ratio(ir.appCheckVsAppEcho)],
      ['tokensFor() share of check()', share(ir.tokensForShareOfCheck)],
      ['TokenIndex.match() share of check()', share(ir.fastMatchShareOfCheck)],
      ['matchTokens() (Kysely) / TokenIndex.match()', ratio(ir.matchTokensVsFastMatch)],
      ['authenticate() / 3 point lookups', ratio(ir.authenticateVsSqlite)],
    ]),
  );
  if (r.profile) {
    const perRequest = (ms: number, p: ProfileFigures) => fixed((ms * 1000) / Math.max(1, p.requests), 1);
    for (const [name, p, areas, functions] of [
      ['check', r.profile.check, 15, 20],
      ['echo', r.profile.echo, 6, 0],
    ] as const) {
      const s = p.summary;
      out.push('');
      out.push(
        `CPU profile of the ${name} server under the same load (${p.file}): ${p.requests} requests, main thread busy ${fixed(s.busyMs, 0)} ms ` +
          `(${perRequest(s.busyMs, p)} µs per request), idle ${fixed(s.idleMs, 0)} ms`,
      );
      out.push(table([['self time by area', 'ms', 'share', 'µs/req'], ...s.areas.slice(0, areas).map((a) => [a.name, fixed(a.selfMs, 0), share(a.share), perRequest(a.selfMs, p)])]));
      if (functions > 0) {
        out.push(table([['self time by function', 'ms', 'share', 'µs/req'], ...s.functions.slice(0, functions).map((f) => [f.name, fixed(f.selfMs, 0), share(f.share), perRequest(f.selfMs, p)])]));
      }
    }
  }
  out.push('');
  out.push(r.ok ? 'all requests answered 2xx, no errors' : `PROBLEMS:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  return out.join('\n');
}
