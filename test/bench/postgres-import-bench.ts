/**
 * The PostgreSQL import benchmark (docs/BENCHMARKS.md, "PostgreSQL import"; target ≥ 50,000 rows/s
 * on a 2-core machine): `jointban import` of a generated CSV of 3 identifiers a row (phone, email,
 * national id: 3 tokens under one epoch) into a node on PostgreSQL, against a bare COPY of the same
 * rows into the same tables, in the same run.
 *
 * - The server is a throwaway cluster started here from the PostgreSQL binaries
 *   (test/helpers/postgres-cluster.ts), with fsync and full-page writes on, as in production;
 *   without the binaries the part is skipped with one line.
 * - import: the real CLI in its own process, batches of 10,000 rows (each one transaction: log
 *   entries, Merkle nodes, listings and tokens by COPY, src/store/postgres/bulk-append.ts), timed
 *   as the command reports it (node start included).
 * - baseline: the four tables' rows the import wrote, read back (COPY TO, binary, not timed) and
 *   COPYed into the same tables of a fresh database migrated the same way, binary format, in one
 *   transaction: the least any import of these rows costs the server.
 *
 * `runPostgresImportBench(options)` returns the figures; as a script
 * (`node dist/test/bench/postgres-import-bench.js [--rows N] [--quick] [--profile]`) it prints them
 * and writes bench-results/postgres-import.json (with `--profile`, the import's CPU profile as
 * bench-results/import.cpuprofile). Nothing asserts on timing; a row count that does not match
 * fails the run.
 */
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { initDataDir } from '../../src/init.js';
import { openDatabase } from '../../src/store/database.js';
import { adminQuery, databaseUrl, findPostgresBin, POSTGRES_BIN_ENV, startTestCluster } from '../helpers/postgres-cluster.js';
import { writeImportFile } from './bulk-baselines.js';
import { runImportCli } from './bulk-bench.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The tables an import writes, with the columns it writes (listing_tokens.seq is the server's). */
const TABLES = [
  { table: 'log_entries', columns: 'origin, seq, kind, time, bytes, leaf_hash', order: 'origin, seq' },
  { table: 'tree_nodes', columns: 'origin, level, idx, hash', order: 'origin, level, idx' },
  {
    table: 'listings',
    columns: 'id, origin, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, retracted_at, retraction_reason, retraction_seq, reference',
    order: 'id',
  },
  { table: 'listing_tokens', columns: 'token, type, epoch, listing_id', order: 'seq' },
] as const;

export interface PostgresImportBenchOptions {
  quick?: boolean;
  /** Rows of the imported file (1,000,000; quick 20,000). */
  rows?: number;
  /** Write a V8 CPU profile of the import here (import.cpuprofile). */
  profileDir?: string | undefined;
  log?: (line: string) => void;
}

export type PostgresImportBenchResult =
  | { skipped: string }
  | {
      /** quick, full, or custom (--rows). */
      mode: 'quick' | 'full' | 'custom';
      machine: { cpus: number; model: string; node: string; loadAverageAtStart: number[] };
      server: string;
      rows: number;
      /** Rows written per table by the import (the baseline writes the same). */
      tableRows: Record<string, number>;
      import: { seconds: number; rowsPerSecond: number; maxRssMb: number };
      bareCopy: { seconds: number; rowsPerSecond: number };
      /** import rows/s ÷ bare COPY rows/s. */
      ratio: number;
    };

/** Reads every row the import wrote to a file per table (binary COPY), in storage order: not timed. */
async function capture(url: string, dir: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const counts: Record<string, number> = {};
  try {
    for (const { table, columns, order } of TABLES) {
      const out = copyStreams.to(`COPY (SELECT ${columns} FROM ${table} ORDER BY ${order}) TO STDOUT (FORMAT binary)`);
      await pipeline(client.query(out), createWriteStream(join(dir, `${table}.copy`)));
      counts[table] = out.rowCount;
    }
  } finally {
    await client.end();
  }
  return counts;
}

/** COPYs the captured rows into the same tables of a fresh migrated database, in one transaction: seconds. */
async function bareCopy(url: string, dir: string, expected: Record<string, number>): Promise<number> {
  const migrated = await openDatabase({ driver: 'postgres', url, poolSize: 1, connectTimeoutMs: 10_000 });
  await migrated.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = performance.now();
    await client.query('BEGIN');
    for (const { table, columns } of TABLES) {
      const into = copyStreams.from(`COPY ${table} (${columns}) FROM STDIN (FORMAT binary)`);
      await pipeline(createReadStream(join(dir, `${table}.copy`)), client.query(into));
      if (into.rowCount !== expected[table]) throw new Error(`bare COPY: ${into.rowCount} rows into ${table}, the import wrote ${expected[table]}`);
    }
    await client.query('COMMIT');
    return (performance.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

export async function runPostgresImportBench(options: PostgresImportBenchOptions = {}): Promise<PostgresImportBenchResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = options.quick === true;
  const rows = options.rows ?? (quick ? 20_000 : 1_000_000);
  const { bin, where } = findPostgresBin();
  if (bin === undefined) return { skipped: `no initdb and pg_ctl in ${where} (apt-get install postgresql, or set ${POSTGRES_BIN_ENV})` };
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100) };
  const dir = mkdtempSync(join(tmpdir(), 'jointban-pg-import-bench-'));
  log('postgres import: starting a throwaway PostgreSQL cluster (fsync on)');
  const cluster = await startTestCluster(bin, { durable: true });
  try {
    await adminQuery(cluster.url, 'CREATE DATABASE bench_import', 'CREATE DATABASE bench_bare');
    const server = await serverVersion(cluster.url);
    const file = join(dir, 'bans.csv');
    log(`postgres import: writing ${rows} rows`);
    await writeImportFile(file, rows);
    const dataDir = join(dir, 'importer');
    await initDataDir({
      dataDir,
      member: 'importer',
      host: '127.0.0.1',
      port: 0,
      extra: { logging: { level: 'warn' }, database: { driver: 'postgres', url: databaseUrl(cluster.url, 'bench_import') } },
    });
    log('postgres import: running jointban import');
    const imported = await runImportCli(dataDir, file, options.profileDir);
    if (imported.listed !== rows) throw new Error(`postgres import: listed ${imported.listed} of ${rows} rows`);
    const tableRows = await capture(databaseUrl(cluster.url, 'bench_import'), dir);
    if (tableRows['listings'] !== rows || tableRows['listing_tokens'] !== 3 * rows) throw new Error(`postgres import: the tables hold ${JSON.stringify(tableRows)} for ${rows} rows`);
    log(`postgres import: ${rows} rows in ${imported.seconds} s; bare COPY of the same rows`);
    const bareSeconds = await bareCopy(databaseUrl(cluster.url, 'bench_bare'), dir, tableRows);
    const importRate = Math.round(rows / imported.seconds);
    const bareRate = Math.round(rows / bareSeconds);
    return {
      mode: options.rows !== undefined ? 'custom' : quick ? 'quick' : 'full',
      machine,
      server,
      rows,
      tableRows,
      import: { seconds: imported.seconds, rowsPerSecond: importRate, maxRssMb: imported.maxRssMb },
      bareCopy: { seconds: Math.round(bareSeconds * 100) / 100, rowsPerSecond: bareRate },
      ratio: importRate / bareRate,
    };
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return String((await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version);
  } finally {
    await client.end();
  }
}

export function formatPostgresImportBench(r: PostgresImportBenchResult): string {
  if ('skipped' in r) return `postgres import: skipped: ${r.skipped}`;
  const n = (v: number) => v.toLocaleString('en-US');
  return [
    `postgres import (${r.mode}): ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}, PostgreSQL ${r.server} (fsync on), load average at start ${r.machine.loadAverageAtStart.join(' ')}`,
    `  jointban import of ${n(r.rows)} CSV rows, 3 identifiers each (batches of 10,000; rows per table: ${Object.entries(r.tableRows)
      .map(([t, c]) => `${t} ${n(c)}`)
      .join(', ')}), peak RSS ${r.import.maxRssMb} MB`,
    `  import: ${n(r.import.rowsPerSecond)} rows/s (${r.import.seconds} s)`,
    `  baseline, bare binary COPY of the same rows into the same tables, one transaction: ${n(r.bareCopy.rowsPerSecond)} rows/s (${r.bareCopy.seconds} s)`,
    `  import / bare COPY: ${r.ratio.toFixed(2)}×`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rows: { type: 'string' }, profile: { type: 'boolean', default: false } }, strict: true });
  if (values.rows !== undefined && !/^[1-9][0-9]*$/.test(values.rows)) throw new Error('--rows: must be a positive whole number');
  const profileDir = values.profile ? join(ROOT, 'bench-results') : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const result = await runPostgresImportBench({ quick: values.quick, profileDir, ...(values.rows !== undefined ? { rows: Number(values.rows) } : {}) });
  process.stdout.write(`${formatPostgresImportBench(result)}\n`);
  mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench-results', 'postgres-import.json'), `${JSON.stringify(result, null, 2)}\n`);
}
