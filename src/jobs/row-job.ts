/**
 * The one harness of the bulk jobs (docs/IMPORT.md): import, relist and rescan are each a RowJob,
 * what to do with a row, run by `runRowJob`, which does everything else the same way for all three:
 *
 * - reads the source one row at a time (`eachRow`) and stops after the current row once the signal
 *   aborts; an input that breaks (CSV quoting, a byte that is not UTF-8) ends the rows there and
 *   its error is returned, so every row read before it is still handled;
 * - parses each row with the job's parser and hands the job its valid rows in batches of up to
 *   `batchSize` rows (refused ones included in the count), one batch in flight while the next one
 *   is read: memory holds two batches, and batches are handled one after another, in row order;
 * - counts every row read as one of the job's outcomes or refused, and writes each refusal (its
 *   parse failure, or the AppError handling it raised) to the rejects file in row order;
 * - offers progress after each batch (or every `progressEvery` rows), shares the totals with the
 *   node's metrics when given a status, and finishes both whatever happens.
 *
 * A row's content never reaches a reason: parsers and AppErrors name the field, never its value.
 */
import { AppError } from '../errors.js';
import type { RejectsFile } from './output.js';
import type { Progress, ProgressSnapshot } from './progress.js';
import { eachRow, type RowSource, type SourceRow } from './row-source.js';
import type { RowResult } from './rows.js';

/** A row the source could read, to be parsed. */
export type ReadRow = Extract<SourceRow, { ok: true }>;

/** What became of a row: one of the job's outcomes, or the reason it was refused. */
export type Outcome<O extends string> = O | { rejected: string };

export interface RowJobTotals<O extends string> {
  /** Rows read (blank lines and the CSV header are not rows). */
  rows: number;
  rejected: number;
  counts: Record<O, number>;
}

export interface RowJobResult<O extends string> extends RowJobTotals<O> {
  /** Stopped by the signal before the end of the input. */
  interrupted: boolean;
  /** The input broke (e.g. CSV quoting) after `rows` rows; everything before it was handled. */
  error: AppError | undefined;
}

export interface RowJob<T, O extends string> {
  /** Every outcome `handle` can give a row; each is counted. */
  readonly outcomes: readonly O[];
  parse(row: ReadRow): RowResult<T>;
  /** Before the first row is read (an output's header). */
  start?(): Promise<void>;
  /** The parsed rows of one batch, in row order; one outcome for each, in the same order. */
  handle(rows: readonly T[]): Promise<Outcome<O>[]>;
  /** The counts a progress line shows after the rows. */
  progressParts(totals: RowJobTotals<O>): ProgressSnapshot['parts'];
}

/** Where a job's totals are shared while it runs (the import's, with the node's metrics). */
export interface RowJobStatus<O extends string> {
  start(): Promise<void>;
  update(totals: RowJobTotals<O>): Promise<void>;
  finish(totals: RowJobTotals<O>, interrupted: boolean): Promise<void>;
}

export interface RowJobOptions<O extends string> {
  source: RowSource;
  rejects: Pick<RejectsFile, 'add'>;
  /** Rows handed to the job at once. */
  batchSize: number;
  progress?: Progress | undefined;
  /** Progress only when this many rows more have been handled; without it, after every batch. */
  progressEvery?: number | undefined;
  /** Stop after the current row; the rows read so far are still handled. */
  signal?: AbortSignal | undefined;
  status?: RowJobStatus<O> | undefined;
}

/** A row read and not yet handled: parsed, or the reason it cannot be. */
type Pending<T> = { row: number } & RowResult<T>;

/**
 * The refusal of the row whose handling threw `err`: an AppError's message names the field, never
 * the value. Any other error is a bug and fails the run, so it is thrown on.
 */
export function refusal(err: unknown): { rejected: string } {
  if (!(err instanceof AppError)) throw err;
  return { rejected: err.message };
}

/** A `handle` for a job that takes its rows one at a time, in order (each catches its own refusals). */
export function oneByOne<T, O extends string>(each: (row: T) => Promise<Outcome<O>>): (rows: readonly T[]) => Promise<Outcome<O>[]> {
  return async (rows) => {
    const outcomes: Outcome<O>[] = [];
    for (const row of rows) outcomes.push(await each(row));
    return outcomes;
  };
}

export async function runRowJob<T, O extends string>(job: RowJob<T, O>, options: RowJobOptions<O>): Promise<RowJobResult<O>> {
  const { source, rejects, progress, status } = options;
  const counts = Object.fromEntries(job.outcomes.map((o) => [o, 0])) as Record<O, number>;
  const totals: RowJobTotals<O> = { rows: 0, rejected: 0, counts };
  const snapshot = (): ProgressSnapshot => ({ rows: totals.rows, bytes: source.bytesRead(), parts: job.progressParts(totals) });
  let handled = 0;

  const handleBatch = async (current: Pending<T>[]) => {
    const valid = current.flatMap((p) => (p.ok ? [p.value] : []));
    const outcomes = await job.handle(valid);
    if (outcomes.length !== valid.length) throw new Error(`a bulk job gave ${outcomes.length} outcomes for ${valid.length} rows`);
    let next = 0;
    // In row order, so the rejects file stays sorted by row.
    for (const pending of current) {
      const outcome: Outcome<O> = pending.ok ? outcomes[next++]! : { rejected: pending.reason };
      if (typeof outcome === 'string') {
        counts[outcome]++;
      } else {
        totals.rejected++;
        await rejects.add(pending.row, outcome.rejected);
      }
    }
    const before = handled;
    handled += current.length;
    const every = options.progressEvery;
    if (every === undefined || Math.floor(handled / every) > Math.floor(before / every)) progress?.update(snapshot());
    await status?.update(totals);
  };

  // A window of up to batchSize rows, refused ones included: memory stays bounded even when every
  // row is refused. The batch in flight is handled while the next one is read, and each waits for
  // the one before it.
  let window: Pending<T>[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    await inFlight;
    if (window.length === 0) return;
    const current = window;
    window = [];
    inFlight = handleBatch(current);
    // Awaited by the next flush; until then a failure must not count as unhandled.
    inFlight.catch(() => undefined);
  };

  const read = async (item: SourceRow) => {
    totals.rows++;
    window.push({ row: item.row, ...(item.ok ? job.parse(item) : item) });
    if (window.length >= options.batchSize) await flush();
  };

  let interrupted = false;
  let error: AppError | undefined;
  await status?.start();
  let finished = false;
  try {
    await job.start?.();
    error = await eachRow(source, read, () => {
      interrupted = options.signal?.aborted === true;
      return interrupted;
    });
    // Rows read before a broken line or an interruption are handled too: every row counted in
    // `rows` then has its outcome or its refusal.
    await flush();
    await inFlight;
    finished = true;
    await status?.finish(totals, interrupted || error !== undefined);
  } finally {
    progress?.finish(snapshot());
    // A failure's own error matters more than a status write that fails after it.
    if (!finished) await status?.finish(totals, true).catch(() => undefined);
  }
  return { ...totals, interrupted, error };
}
