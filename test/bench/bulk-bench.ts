/**
 * The bulk benchmark (docs/BENCHMARKS.md, "The bulk paths"):
 *
 * - sync ingest: a fresh member pulls a seeded member's log over loopback HTTP, against bare
 *   prepared inserts of the same rows (log entry, listing, tokens) into an empty database;
 * - bulk import: `jointban import` of a generated CSV file, against parsing the same file without
 *   writing, and parsing plus tokenising it;
 * - propagation: listings created at a steady rate on one member, the time from each create's
 *   acknowledgement to the first check on a peer that denies its person.
 *
 * Every node runs in its own child process (bulk-node.ts; the import is the real CLI); baselines run
 * in this process while the children are idle. `runBulkBench(options)` returns the figures;
 * run as a script (`node dist/test/bench/bulk-bench.js [--quick]`) it prints a table and writes
 * bench-results/bulk.json. Nothing here asserts on timing; the sanity checks (every entry held,
 * every sampled person denied, every row listed) make the run fail.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/load.js';
import { initLocalFederation } from '../../src/demo/local-federation.js';
import { initDataDir } from '../../src/init.js';
import { createHmacTokenDeriver } from '../../src/identifiers/tokens.js';
import { Tokenizer } from '../../src/service/tokenizer.js';
import { killAll, ServerChild } from './child-protocol.js';
import type { BulkNodeArgs, BulkNodeReady } from './bulk-node.js';
import { bareInserts, parseFile, writeImportFile } from './bulk-baselines.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const script = (name: string) => fileURLToPath(new URL(`./${name}.js`, import.meta.url));

export interface BulkBenchOptions {
  quick?: boolean;
  /** Entries in the log the fresh node pulls (1,000,000; quick 20,000). */
  syncEntries?: number;
  /** sync.pageSize of every node (the default when absent). */
  pageSize?: number | undefined;
  /** Rows of the imported file (1,000,000; quick 20,000). */
  importRows?: number;
  /** Listings created for the propagation figure (1,000; quick 50), at `propagationRate` per second (10). */
  propagationListings?: number;
  propagationRate?: number;
  /** Write V8 CPU profiles of the ingesting node and of the import here (sync-ingest.cpuprofile, import.cpuprofile). */
  profileDir?: string | undefined;
  /** Progress lines (stderr by default). */
  log?: (line: string) => void;
}

export interface BulkBenchResult {
  mode: 'quick' | 'full';
  machine: { cpus: number; model: string; node: string; loadAverageAtStart: number[] };
  sync: {
    entries: number;
    pageSize: number;
    seedSeconds: number;
    seconds: number;
    entriesPerSecond: number;
    ingestCpuSecondsPerCore: number;
    baselineBareInsertsPerSecond: number;
    ratio: number;
    sampledChecks: number;
    sampledDenied: number;
  };
  import: {
    rows: number;
    seconds: number;
    rowsPerSecond: number;
    parseOnlyRowsPerSecond: number;
    parseAndTokeniseRowsPerSecond: number;
    ratioToParse: number;
    ratioToParseAndTokenise: number;
    maxRssMb: number;
  };
  propagation: {
    listings: number;
    ratePerSecond: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    pollIntervalMs: number;
    checkpointIntervalMs: number;
  };
}

/** Starts a bulk-node.ts child on a data directory, remembered in `children` for the cleanup. */
export function bulkNodeStarter(children: ServerChild<BulkNodeReady>[]): (dataDir: string) => Promise<ServerChild<BulkNodeReady>> {
  return async (dataDir) => {
    const child = await ServerChild.start<BulkNodeReady>(dataDir, script('bulk-node'), { dataDir } satisfies BulkNodeArgs);
    children.push(child);
    return child;
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export async function runImportCli(dataDir: string, file: string, profileDir: string | undefined): Promise<{ rows: number; listed: number; seconds: number; maxRssMb: number }> {
  // Node 20 takes --cpu-prof-name literally (no ${pid} substitution): one fixed name, overwritten per run.
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-name=import.cpuprofile'] : [];
  const child = spawn(process.execPath, [...profile, join(ROOT, 'dist/src/cli/main.js'), 'import', '--data-dir', dataDir, file, '--batch-size', '10000', '--progress-interval', '30'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`jointban import exited ${String(code)}: ${out}`);
  return JSON.parse(out) as { rows: number; listed: number; seconds: number; maxRssMb: number };
}

export async function runBulkBench(options: BulkBenchOptions = {}): Promise<BulkBenchResult> {
  const quick = options.quick === true;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const syncEntries = options.syncEntries ?? (quick ? 20_000 : 1_000_000);
  const importRows = options.importRows ?? (quick ? 20_000 : 1_000_000);
  const propagationListings = options.propagationListings ?? (quick ? 50 : 1_000);
  const propagationRate = options.propagationRate ?? 10;
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100) };
  const dir = mkdtempSync(join(tmpdir(), 'jointban-bulk-bench-'));
  const children: ServerChild<BulkNodeReady>[] = [];
  const start = bulkNodeStarter(children);
  try {
    // The federation's defaults (sync poll, checkpoint interval, page size), quieter logs.
    const fed = await initLocalFederation({ dir: join(dir, 'fed'), nodes: 2, extra: { logging: { level: 'warn' }, ...(options.pageSize ? { sync: { pageSize: options.pageSize } } : {}) } });
    const [associationDir, alphaDir, betaDir] = fed.dataDirs as [string, string, string];
    const alphaConfig = loadConfig(alphaDir, {});
    const association = await start(associationDir);
    const alpha = await start(alphaDir);

    log(`sync ingest: seeding ${syncEntries} listings on alpha`);
    const sampleEvery = Math.max(1, Math.floor(syncEntries / 200));
    const seeded = await alpha.command<{ ms: number; size: number }>({ cmd: 'seed', count: syncEntries, batch: 10_000, sampleEvery });
    // The association mirrors alpha's log too; let it finish before the measured pull.
    await association.command({ cmd: 'wait-log', origin: 'alpha', size: syncEntries, timeoutMs: 3_600_000 });
    log(`sync ingest: seeded in ${(seeded.ms / 1000).toFixed(1)} s; starting a fresh beta`);
    const beta = await start(betaDir);
    if (options.profileDir) await beta.command({ cmd: 'profile-start', intervalUs: 1000 });
    const cpuBefore = await beta.command<{ user: number; system: number }>({ cmd: 'cpu' });
    const caughtUp = await beta.command<{ at: number }>({ cmd: 'wait-log', origin: 'alpha', size: syncEntries, timeoutMs: 3_600_000 });
    const cpuAfter = await beta.command<{ user: number; system: number }>({ cmd: 'cpu' });
    if (options.profileDir) await beta.command({ cmd: 'profile-stop', file: join(options.profileDir, 'sync-ingest.cpuprofile') });
    const syncSeconds = (caughtUp.at - beta.info.startedAt) / 1000;
    const sample = await beta.command<{ checked: number; denied: number; listings: number }>({ cmd: 'sample', origin: 'alpha', count: syncEntries, sampleEvery });
    if (sample.denied !== sample.checked || sample.listings !== syncEntries) {
      throw new Error(`sync ingest: beta denies ${sample.denied} of ${sample.checked} sampled persons and holds ${sample.listings} of ${syncEntries} listings`);
    }
    log(`sync ingest: ${syncEntries} entries in ${syncSeconds.toFixed(1)} s; measuring bare inserts`);
    const bare = await bareInserts(alphaConfig.databaseFile, 'alpha', dir, alphaConfig.sync.pageSize);

    log(`propagation: ${propagationListings} listings at ${propagationRate}/s`);
    const from = syncEntries + 1;
    const [acks, seen] = await Promise.all([
      alpha.command<number[]>({ cmd: 'create-steady', from, count: propagationListings, ratePerSecond: propagationRate }),
      beta.command<number[]>({ cmd: 'watch', from, count: propagationListings, timeoutMs: 600_000 + (propagationListings / propagationRate) * 1000 }),
    ]);
    const delays = seen.map((t, i) => Math.max(0, t - acks[i]!)).sort((a, b) => a - b);
    for (const child of children.splice(0)) await child.stop();

    log(`bulk import: writing ${importRows} rows`);
    const importFile = join(dir, 'bans.csv');
    await writeImportFile(importFile, importRows);
    const importDir = join(dir, 'importer');
    await initDataDir({ dataDir: importDir, member: 'importer', host: '127.0.0.1', port: 0, extra: { logging: { level: 'warn' } } });
    const importConfig = loadConfig(importDir, {});
    const parseOnly = await parseFile(importFile, undefined, importConfig.categories);
    const tokenizer = new Tokenizer(createHmacTokenDeriver(importConfig.epochs), importConfig.defaultRegion);
    const parseTokenise = await parseFile(importFile, tokenizer, importConfig.categories);
    log(`bulk import: parse ${parseOnly.seconds.toFixed(1)} s, parse + tokenise ${parseTokenise.seconds.toFixed(1)} s; running jointban import`);
    const imported = await runImportCli(importDir, importFile, options.profileDir);
    if (imported.listed !== importRows) throw new Error(`bulk import: listed ${imported.listed} of ${importRows} rows`);

    const rate = (n: number, s: number) => Math.round(n / s);
    const syncRate = rate(syncEntries, syncSeconds);
    const bareRate = rate(bare.entries, bare.seconds);
    const importRate = rate(imported.rows, imported.seconds);
    const parseRate = rate(parseOnly.rows, parseOnly.seconds);
    const tokeniseRate = rate(parseTokenise.rows, parseTokenise.seconds);
    return {
      mode: quick ? 'quick' : 'full',
      machine,
      sync: {
        entries: syncEntries,
        pageSize: alphaConfig.sync.pageSize,
        seedSeconds: Math.round(seeded.ms / 100) / 10,
        seconds: syncSeconds,
        entriesPerSecond: syncRate,
        ingestCpuSecondsPerCore: Math.round((cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1e4) / 100,
        baselineBareInsertsPerSecond: bareRate,
        ratio: syncRate / bareRate,
        sampledChecks: sample.checked,
        sampledDenied: sample.denied,
      },
      import: {
        rows: imported.rows,
        seconds: imported.seconds,
        rowsPerSecond: importRate,
        parseOnlyRowsPerSecond: parseRate,
        parseAndTokeniseRowsPerSecond: tokeniseRate,
        ratioToParse: importRate / parseRate,
        ratioToParseAndTokenise: importRate / tokeniseRate,
        maxRssMb: imported.maxRssMb,
      },
      propagation: {
        listings: delays.length,
        ratePerSecond: propagationRate,
        p50Ms: percentile(delays, 50),
        p99Ms: percentile(delays, 99),
        maxMs: delays[delays.length - 1] ?? Number.NaN,
        pollIntervalMs: alphaConfig.sync.pollIntervalMs,
        checkpointIntervalMs: alphaConfig.checkpoints.intervalMs,
      },
    };
  } finally {
    for (const child of children) await child.stop().catch(() => undefined);
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatBulkResults(r: BulkBenchResult): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const x = (v: number) => `${v.toFixed(2)}×`;
  const s = r.sync;
  const i = r.import;
  const p = r.propagation;
  return [
    `jointban bulk bench (${r.mode}): ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}, load average at start ${r.machine.loadAverageAtStart.join(' ')}`,
    '',
    `sync ingest: ${n(s.entries)} entries over loopback HTTP, pages of ${n(s.pageSize)} (seeded in ${s.seedSeconds} s)`,
    `  fresh node caught up in ${s.seconds.toFixed(1)} s: ${n(s.entriesPerSecond)} entries/s (${s.ingestCpuSecondsPerCore} s CPU)`,
    `  baseline, bare prepared inserts of the same rows: ${n(s.baselineBareInsertsPerSecond)} entries/s`,
    `  sync / bare inserts: ${x(s.ratio)}; sampled checks denied ${s.sampledDenied}/${s.sampledChecks}`,
    '',
    `bulk import: jointban import of ${n(i.rows)} generated CSV rows (batches of 10,000), peak RSS ${i.maxRssMb} MB`,
    `  import: ${n(i.rowsPerSecond)} rows/s (${i.seconds} s)`,
    `  baseline, parsing the file only: ${n(i.parseOnlyRowsPerSecond)} rows/s; import / parse: ${x(i.ratioToParse)}`,
    `  baseline, parsing and tokenising: ${n(i.parseAndTokeniseRowsPerSecond)} rows/s; import / (parse + tokenise): ${x(i.ratioToParseAndTokenise)}`,
    '',
    `propagation: ${p.listings} listings at ${p.ratePerSecond}/s, create acknowledged → first check on the peer that denies`,
    `  p50 ${n(p.p50Ms)} ms, p99 ${n(p.p99Ms)} ms, max ${n(p.maxMs)} ms (checkpoints.intervalMs ${p.checkpointIntervalMs}, sync.pollIntervalMs ${p.pollIntervalMs}, notify on each checkpoint)`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'page-size': { type: 'string' },
      'sync-entries': { type: 'string' },
      'import-rows': { type: 'string' },
      listings: { type: 'string' },
    },
    strict: true,
  });
  const int = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^[1-9][0-9]*$/.test(text)) throw new Error(`--${name}: must be a positive whole number`);
    return Number(text);
  };
  const profileDir = values.profile ? join(ROOT, 'bench-results') : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const onSignal = () => {
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = await runBulkBench({
    quick: values.quick,
    profileDir,
    pageSize: int('page-size', values['page-size']),
    syncEntries: int('sync-entries', values['sync-entries']),
    importRows: int('import-rows', values['import-rows']),
    propagationListings: int('listings', values.listings),
  });
  process.stdout.write(`${formatBulkResults(result)}\n`);
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'bulk.json'), `${JSON.stringify(result, null, 2)}\n`);
}
