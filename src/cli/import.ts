/**
 * `jointban import`: lists a platform's existing bans from a CSV or JSON Lines file (docs/IMPORT.md).
 * Also the setup shared with `jointban rescan`: the input, the node (without HTTP, like `check`),
 * the rejects file, progress on stderr and Ctrl-C, which stops after the current row.
 *
 * Exit status: 0 when the file was read to the end, rejected rows or not; 1 when the command could
 * not run or stopped early (a missing file, a bad format, an unreadable data directory, a broken
 * CSV structure, an interruption). Rows listed before the stop stay listed; a re-run skips them.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { NodeConfig } from '../config/load.js';
import { AppError } from '../errors.js';
import { createLogger } from '../logging.js';
import { createNode, type JointbanNode } from '../node.js';
import { DEFAULT_BATCH_SIZE, runImport, type ImportResult } from '../jobs/import.js';
import { defaultTokenThreads, TokenPool } from '../jobs/token-pool.js';
import { runRelist } from '../jobs/relist.js';
import { defaultRejectsPath, RejectsFile } from '../jobs/output.js';
import { createProgress, type Progress } from '../jobs/progress.js';
import { ImportStatusRecorder } from '../jobs/import-status.js';
import type { RowRules } from '../jobs/rows.js';
import { LISTING_COLUMNS } from '../jobs/rows.js';
import { INPUT_FORMATS, openRowSource, type CsvColumns, type InputFormat, type RowSource } from '../jobs/row-source.js';
import { configFor, parsePositiveInt, printJson } from './options.js';
import { stopOnSignal } from './signals.js';

export const MAX_BATCH_SIZE = 10_000;

export function parseFormat(value: string): InputFormat {
  if (!(INPUT_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${INPUT_FORMATS.join(', ')}`);
  return value as InputFormat;
}

function parseBatchSize(value: string): number {
  const n = parsePositiveInt(value);
  if (n > MAX_BATCH_SIZE) throw new InvalidArgumentError(`must be at most ${MAX_BATCH_SIZE}`);
  return n;
}

export function parseSeconds(value: string): number {
  if (!/^\d{1,6}(\.\d{1,3})?$/.test(value)) throw new InvalidArgumentError('must be a number of seconds, e.g. 10 or 0.5');
  return Number(value);
}

export interface BulkOptions {
  dataDir: string;
  format?: InputFormat;
  rejects?: string;
  progressInterval: number;
}

/** Everything a bulk command runs with; `close()` stops the node and closes the rejects file. */
export interface BulkRun {
  node: JointbanNode;
  source: RowSource;
  rejects: RejectsFile;
  rules: RowRules;
  progress: Progress;
  signal: AbortSignal;
  /** Seconds since the start, to one decimal. */
  seconds(): number;
  close(): Promise<void>;
}

export async function openBulkRun(verb: string, file: string, opts: BulkOptions, columns: CsvColumns): Promise<BulkRun> {
  const started = Date.now();
  // The input first: a missing file or an unknown format fails before anything is opened.
  const source = await openRowSource({ file, format: opts.format, columns });
  const rejectsPath = opts.rejects ?? defaultRejectsPath(file);
  let node: JointbanNode | undefined;
  let rejects: RejectsFile;
  let config: NodeConfig;
  try {
    config = configFor(opts.dataDir);
    // The node's own log lines would mix with the command's output; there is nothing to serve here.
    // A bulk run writes locally even where durability.mode is "witnessed": it runs with no sync
    // loop to reach the witness, and its source file, re-run, is its acknowledgement (an import
    // skips or reconnects what is already listed). docs/CONFIGURATION.md, "Durability".
    node = await createNode({ ...config, durability: { ...config.durability, mode: 'local' } }, { logger: createLogger('silent') });
    // A restored node must fetch its own log back from its peers before anything appends to it.
    node.federation.ownLog.assertWritable();
    rejects = await RejectsFile.create(rejectsPath);
  } catch (err) {
    source.close();
    await node?.stop();
    throw err;
  }
  const opened = node;
  // Ctrl-C stops after the current row (a second one ends the process at once).
  const stop = stopOnSignal();
  const progress = createProgress({
    verb,
    stream: process.stderr,
    tty: process.stderr.isTTY === true,
    totalBytes: source.totalBytes,
    intervalMs: opts.progressInterval * 1000,
  });
  return {
    node: opened,
    source,
    rejects,
    rules: { categories: config.categories, maxIdentifiers: config.http.maxIdentifiersPerRequest },
    progress,
    signal: stop.signal,
    seconds: () => Math.round((Date.now() - started) / 100) / 10,
    async close() {
      stop.dispose();
      try {
        await rejects.close();
      } finally {
        // Stopping signs a checkpoint over whatever was appended (see CheckpointSigner.stop).
        await opened.stop();
      }
    },
  };
}

/** The peak resident memory of this process so far, in MB (the bound the docs promise). */
export function maxRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** After the totals are printed: the reason the run did not finish, if it did not. */
export function stopReason(result: { rows: number; interrupted: boolean; error: AppError | undefined }): AppError | undefined {
  if (result.error) return result.error;
  if (result.interrupted) return new AppError('unavailable', `interrupted after ${result.rows} rows: run the same command again to continue`);
  return undefined;
}

export function addBulkOptions(command: Command): Command {
  return command
    .requiredOption('--data-dir <dir>', 'the data directory')
    .option('--format <format>', 'csv or jsonl (default: from the file name; required for -)', parseFormat)
    .option('--rejects <path>', 'where rejected rows go, as row,reason (default: FILE.rejects.csv; required for -)')
    .option('--progress-interval <seconds>', 'seconds between progress lines when stderr is not a terminal (0: at every batch)', parseSeconds, 10);
}

async function relist(file: string, opts: BulkOptions): Promise<void> {
  const run = await openBulkRun('relist', file, opts, LISTING_COLUMNS);
  let result: Awaited<ReturnType<typeof runRelist>>;
  try {
    const { node } = run;
    result = await runRelist({
      db: node.database.db,
      member: node.config.member,
      source: run.source,
      listings: node.listings,
      tokenizer: node.tokenizer,
      rules: run.rules,
      rejects: run.rejects,
      now: () => new Date(),
      progress: run.progress,
      signal: run.signal,
    });
  } finally {
    await run.close();
  }
  const { rows, relisted, current, skipped, rejected } = result;
  printJson({ rows, relisted, current, skipped, rejected, seconds: run.seconds(), rejectsFile: run.rejects.path, maxRssMb: maxRssMb() });
  const stop = stopReason(result);
  if (stop) throw stop;
}

export function registerImportCommand(program: Command): void {
  addBulkOptions(
    program
      .command('import')
      .description("list the platform's existing bans from a CSV or JSON Lines file (docs/IMPORT.md); prints totals as JSON")
      .argument('<file>', 'the file, or - for standard input'),
  )
    .option('--batch-size <n>', `rows per transaction (at most ${MAX_BATCH_SIZE})`, parseBatchSize, DEFAULT_BATCH_SIZE)
    .option('--relist', 'list again under the newest token epoch every ban listed under an older one, retracting the old listing (docs/OPERATIONS.md, "Key and epoch rotation")')
    .action(async (file: string, opts: BulkOptions & { batchSize: number; relist?: boolean }) => {
      if (opts.relist) return relist(file, opts);
      const run = await openBulkRun('import', file, opts, LISTING_COLUMNS);
      const { config } = run.node;
      // Tokenising on the other cores while this thread reads and writes (jobs/token-pool.ts).
      const pool = new TokenPool({ epochs: config.epochs, defaultRegion: config.defaultRegion, threads: defaultTokenThreads() });
      let result: ImportResult;
      try {
        result = await runImport({
          source: run.source,
          listings: run.node.listings,
          rules: run.rules,
          rejects: run.rejects,
          batchSize: opts.batchSize,
          progress: run.progress,
          signal: run.signal,
          status: new ImportStatusRecorder(run.node.context.repos.nodeMeta),
          tokens: pool,
        });
      } finally {
        await pool.close();
        await run.close();
      }
      const { rows, listed, skipped, reconnected, rejected } = result;
      printJson({ rows, listed, skipped, reconnected, rejected, seconds: run.seconds(), rejectsFile: run.rejects.path, maxRssMb: maxRssMb() });
      const stop = stopReason(result);
      if (stop) throw stop;
    });
}
