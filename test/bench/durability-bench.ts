/**
 * The durability bench (docs/BENCHMARKS.md, "Witnessed durability"): the latency of one listing
 * (`ListingService.create`, call to acknowledgement) on a member in `durability.mode: "local"`
 * and on another in `"witnessed"` (acknowledged once the association has cosigned a checkpoint
 * covering it), in the same federation, at the same steady rate, at the same time, so both see
 * the same machine and the same association. Prints both distributions and their ratio.
 *
 * Every node is a child process (bulk-node.ts) with the federation's defaults
 * (`checkpoints.intervalMs` 250, `durability.witnessPollMs` 50). Nothing asserts on timing; a
 * create that fails (a witness timeout) fails the run.
 */
import { readFileSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { initLocalFederation } from '../../src/demo/local-federation.js';
import { bulkNodeStarter, percentile } from './bulk-bench.js';
import type { BulkNodeReady } from './bulk-node.js';
import { killAll, type ServerChild } from './child-protocol.js';

export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export interface DurabilityBenchResult {
  machine: { cpus: number; model: string; node: string; loadAverageAtStart: number[] };
  listings: number;
  ratePerSecond: number;
  checkpointIntervalMs: number;
  witnessPollMs: number;
  local: LatencySummary;
  witnessed: LatencySummary;
  /** witnessed / local, per figure. */
  ratio: { p50: number; p99: number; mean: number };
}

function summarise(latencies: number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), meanMs: mean, maxMs: sorted.at(-1) ?? Number.NaN };
}

export async function runDurabilityBench(options: { listings?: number; ratePerSecond?: number; quick?: boolean } = {}): Promise<DurabilityBenchResult> {
  const listings = options.listings ?? (options.quick ? 50 : 500);
  const ratePerSecond = options.ratePerSecond ?? 10;
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100) };
  const dir = mkdtempSync(join(tmpdir(), 'jointban-durability-bench-'));
  const children: ServerChild<BulkNodeReady>[] = [];
  try {
    const fed = await initLocalFederation({ dir: join(dir, 'fed'), nodes: 2, extra: { logging: { level: 'warn' } } });
    const [associationDir, localDir, witnessedDir] = fed.dataDirs as [string, string, string];
    const file = join(witnessedDir, CONFIG_FILE_NAME);
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, `${JSON.stringify({ ...raw, durability: { mode: 'witnessed' } }, null, 2)}\n`, { mode: 0o600 });
    const witnessedConfig = loadConfig(witnessedDir, {});
    const start = bulkNodeStarter(children);
    for (const dataDir of [associationDir, localDir, witnessedDir]) await start(dataDir);
    const [, local, witnessed] = children as [ServerChild<BulkNodeReady>, ServerChild<BulkNodeReady>, ServerChild<BulkNodeReady>];
    const command = { cmd: 'create-timed', from: 1, count: listings, ratePerSecond };
    const [l, w] = await Promise.all([local.command<number[]>(command), witnessed.command<number[]>(command)]);
    const a = summarise(l);
    const b = summarise(w);
    return {
      machine,
      listings,
      ratePerSecond,
      checkpointIntervalMs: witnessedConfig.checkpoints.intervalMs,
      witnessPollMs: witnessedConfig.durability.witnessPollMs,
      local: a,
      witnessed: b,
      ratio: { p50: b.p50Ms / a.p50Ms, p99: b.p99Ms / a.p99Ms, mean: b.meanMs / a.meanMs },
    };
  } finally {
    for (const child of children) await child.stop().catch(() => undefined);
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatDurabilityBench(r: DurabilityBenchResult): string {
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const row = (name: string, s: LatencySummary) => `  ${name.padEnd(10)} p50 ${ms(s.p50Ms)}, p99 ${ms(s.p99Ms)}, mean ${ms(s.meanMs)}, max ${ms(s.maxMs)}`;
  return [
    `jointban durability bench: ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}, load average at start ${r.machine.loadAverageAtStart.join(' ')}`,
    `listing latency (create → acknowledged), ${r.listings} listings at ${r.ratePerSecond}/s on each of two members at once (checkpoints.intervalMs ${r.checkpointIntervalMs}, durability.witnessPollMs ${r.witnessPollMs})`,
    row('local', r.local),
    row('witnessed', r.witnessed),
    `  witnessed / local: p50 ${r.ratio.p50.toFixed(1)}×, p99 ${r.ratio.p99.toFixed(1)}×, mean ${r.ratio.mean.toFixed(1)}×`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, listings: { type: 'string' } }, strict: true });
  if (values.listings !== undefined && !/^[1-9][0-9]*$/.test(values.listings)) throw new Error('--listings: must be a positive whole number');
  const onSignal = () => {
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = await runDurabilityBench({ quick: values.quick, ...(values.listings !== undefined ? { listings: Number(values.listings) } : {}) });
  process.stdout.write(`${formatDurabilityBench(result)}\n`);
}
