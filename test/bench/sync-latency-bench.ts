/**
 * Check latency while a large sync runs (docs/BENCHMARKS.md, "Checks during a large sync"): a
 * fresh member pulls a seeded member's log of `entries` listings over loopback HTTP while this
 * process sends it one POST /v1/check at a time (a short pause between); then, once it has caught
 * up, the same checks against the idle node. The figure is p99 during the sync over p99 idle, in
 * the same run on the same machine. The ingest yields to the event loop between slices of a page
 * (federation/ingest.ts); without that, a page of thousands of entries is hashed, decoded and
 * committed as one block of synchronous work and every check waits behind it.
 *
 * Every node runs in its own child process (bulk-node.ts). Run as a script:
 * `node dist/test/bench/sync-latency-bench.js [--entries N] [--gap-ms N]`; it prints the figures and
 * writes bench-results/sync-latency.json. Nothing asserts on timing; the run fails only when the
 * node does not catch up or a check does not answer 200.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { initLocalFederation } from '../../src/demo/local-federation.js';
import { bulkNodeStarter, percentile } from './bulk-bench.js';
import type { BulkNodeReady } from './bulk-node.js';
import { killAll, type ServerChild } from './child-protocol.js';
import { identifiersOf, person } from './synthetic.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface LatencySummary {
  checks: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface SyncLatencyResult {
  machine: { cpus: number; model: string; node: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  entries: number;
  syncSeconds: number;
  gapMs: number;
  duringSync: LatencySummary;
  idle: LatencySummary;
  /** p99 during the sync / p99 idle. */
  p99Ratio: number;
}

function summarise(latencies: number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return { checks: sorted.length, p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), maxMs: round(sorted[sorted.length - 1] ?? Number.NaN) };
}

/** One check at a time until `done()`, `gapMs` apart; returns each one's latency (ms). */
async function checkLoop(url: string, key: string, done: () => boolean, gapMs: number, minChecks = 0): Promise<number[]> {
  const latencies: number[] = [];
  for (let k = 0; !done() || latencies.length < minChecks; k++) {
    const body = JSON.stringify({ identifiers: identifiersOf(person(k % 1000)) });
    const started = performance.now();
    const res = await fetch(`${url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    latencies.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`check answered ${res.status}`);
    await sleep(gapMs);
  }
  return latencies;
}

export async function runSyncLatencyBench(options: { entries?: number; gapMs?: number; log?: (line: string) => void } = {}): Promise<SyncLatencyResult> {
  const entries = options.entries ?? 150_000;
  const gapMs = options.gapMs ?? 5;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const loadAverage = () => loadavg().map((l) => Math.round(l * 100) / 100);
  const loadAverageAtStart = loadAverage();
  const dir = mkdtempSync(join(tmpdir(), 'jointban-sync-latency-'));
  const children: ServerChild<BulkNodeReady>[] = [];
  const start = bulkNodeStarter(children);
  try {
    // The checks here measure latency, not the rate limit.
    const extra = { logging: { level: 'warn' as const }, limits: { check: { ratePerSecond: 1_000_000, burst: 1_000_000 } } };
    const fed = await initLocalFederation({ dir: join(dir, 'fed'), nodes: 2, extra });
    const [associationDir, alphaDir, betaDir] = fed.dataDirs as [string, string, string];
    const association = await start(associationDir);
    const alpha = await start(alphaDir);
    log(`sync latency: seeding ${entries} listings on alpha`);
    await alpha.command({ cmd: 'seed', count: entries, batch: 10_000, sampleEvery: Math.max(1, Math.floor(entries / 200)) });
    await association.command({ cmd: 'wait-log', origin: 'alpha', size: entries, timeoutMs: 3_600_000 });
    // The association is caught up and idle from here: only beta's sync and the checks run.
    log('sync latency: starting a fresh beta; checks while it syncs');
    const beta = await start(betaDir);
    const key = await beta.command<string>({ cmd: 'check-key' });
    let caughtUp: number | undefined;
    const waiting = beta.command<{ at: number }>({ cmd: 'wait-log', origin: 'alpha', size: entries, timeoutMs: 3_600_000 }).then((r) => (caughtUp = r.at));
    const during = await checkLoop(beta.info.url, key, () => caughtUp !== undefined, gapMs);
    await waiting;
    const syncSeconds = (caughtUp! - beta.info.startedAt) / 1000;
    log(`sync latency: caught up in ${syncSeconds.toFixed(1)} s after ${during.length} checks; the same checks idle`);
    const idle = await checkLoop(beta.info.url, key, () => true, gapMs, Math.max(during.length, 500));
    const duringSync = summarise(during);
    const idleSummary = summarise(idle);
    return {
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart, loadAverageAtEnd: loadAverage() },
      entries,
      syncSeconds,
      gapMs,
      duringSync,
      idle: idleSummary,
      p99Ratio: Math.round((duringSync.p99Ms / idleSummary.p99Ms) * 100) / 100,
    };
  } finally {
    for (const child of children) await child.stop().catch(() => undefined);
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatSyncLatency(r: SyncLatencyResult): string {
  const row = (name: string, s: LatencySummary) => `  ${name}: ${s.checks} checks, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, max ${s.maxMs} ms`;
  return [
    `jointban check latency during a sync: ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}, load average ${r.machine.loadAverageAtStart.join(' ')} at start, ${r.machine.loadAverageAtEnd.join(' ')} at end`,
    `  a fresh node pulls ${r.entries.toLocaleString('en-US')} entries in ${r.syncSeconds.toFixed(1)} s; one check at a time, ${r.gapMs} ms apart`,
    row('during the sync', r.duringSync),
    row('idle, after it', r.idle),
    `  p99 during / p99 idle: ${r.p99Ratio.toFixed(2)}×`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { entries: { type: 'string' }, 'gap-ms': { type: 'string' } }, strict: true });
  const int = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^[0-9]+$/.test(text)) throw new Error(`--${name}: must be a whole number`);
    return Number(text);
  };
  try {
    const result = await runSyncLatencyBench({ entries: int('entries', values.entries), gapMs: int('gap-ms', values['gap-ms']) });
    const outDir = join(ROOT, 'bench-results');
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'sync-latency.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${formatSyncLatency(result)}\n`);
  } catch (err) {
    process.stderr.write(`sync latency bench: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    killAll();
  }
}
