/**
 * `jointban verify` on several threads. An origin's log is cut into chunks of 2^level leaves,
 * aligned so that each is a perfect subtree of the RFC 9162 tree and so independent of the rest;
 * worker threads check the chunks (verify-chunk.ts: entries, leaf hashes, the stored nodes within
 * the chunk, the projection's rows) while this thread takes their results in log order and does
 * what spans chunks: the nodes above the chunks (fed the chunks' roots), every stored checkpoint
 * (its root composed from the chunks before it and the chunk's share), the retractions' targets
 * before their chunk and the ledger of retractions, and the checks of the whole log at its end.
 *
 * One snapshot: the coordinator's read transaction fixes each origin's log size before any worker
 * starts; workers read only rows up to it, in their own read transaction (on SQLite a later WAL
 * snapshot; on PostgreSQL the coordinator's own, imported), and a worker whose snapshot holds a
 * different size for the origin says so (`moved`): the log is append-only, so the same size means
 * the same entries, nodes and projection rows.
 *
 * Workers only say whether a chunk verifies. An origin with any failure, or whose chunks could not
 * be checked (moved, a worker error), is verified again in one thread (verify.ts), so its report is
 * exactly the one-thread report: every failure kind, message and the first failing index.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Kysely, Transaction } from 'kysely';
import type { Roster } from '../roster/schema.js';
import type { LogBatchReader, LogReaderTarget } from '../store/log-batch-reader.js';
import type { Database } from '../store/tables.js';
import type { ChunkResult, ChunkTask } from './verify-chunk.js';
import type { CheckpointCheck } from './verify-checkpoints.js';
import { IndexSet, RetractionLedger, checkRowsBeyond } from './verify-projection.js';
import type { OriginReport, OriginVerification } from './verify-report.js';
import { TreeCheck, rootOf } from './verify-tree.js';
import type { VerifyWorkerData } from './verify-worker.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Chunks of 2^13 leaves: a few hundred kilobytes of results, a fraction of a second of work each. */
export const DEFAULT_CHUNK_LEVEL = 13;

/**
 * A worker's young generation, in MB. What a chunk's batch keeps alive (rows, decoded entries,
 * hashes) then dies before it is promoted: with V8's default, garbage collection was a quarter of a
 * worker's profile, with this about a tenth.
 */
const YOUNG_GENERATION_MB = 64;

/** Worker threads by default: one per core the process may use, at most 8. */
export function defaultWorkers(): number {
  return Math.min(8, availableParallelism());
}

/** A set of worker threads, each checking one chunk at a time. */
export class ChunkPool {
  readonly #workers: Worker[];
  readonly #idle: Worker[];
  readonly #queue: { task: ChunkTask; resolve: (r: ChunkResult) => void }[] = [];
  readonly #running = new Map<Worker, { task: ChunkTask; resolve: (r: ChunkResult) => void }>();
  #broken: string | undefined;

  private constructor(workers: Worker[]) {
    this.#workers = workers;
    this.#idle = [...workers];
    for (const w of workers) {
      w.on('message', (result: ChunkResult) => this.#done(w, result));
      w.on('error', (err) => this.#fail(w, err instanceof Error ? err.message : String(err)));
      w.on('exit', (code) => this.#fail(w, `worker exited with code ${code}`));
    }
  }

  /**
   * Starts `count` workers on the store at `target`, each in its own read snapshot. Undefined if any
   * cannot start (no script, no file, no threads): the caller then verifies in its own thread.
   */
  static async start(script: URL, target: LogReaderTarget, roster: Roster | undefined, count: number): Promise<ChunkPool | undefined> {
    const data: VerifyWorkerData = { target, roster };
    const started = await Promise.all(
      Array.from(
        { length: count },
        () =>
          new Promise<Worker | undefined>((resolve) => {
            let worker: Worker;
            try {
              worker = new Worker(script, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
            } catch {
              resolve(undefined);
              return;
            }
            const failed = () => {
              void worker.terminate();
              resolve(undefined);
            };
            worker.once('error', failed);
            worker.once('exit', failed);
            worker.once('message', (m) => {
              worker.off('error', failed);
              worker.off('exit', failed);
              if (m === 'ready') resolve(worker);
              else failed();
            });
          }),
      ),
    );
    const workers = started.filter((w): w is Worker => w !== undefined);
    if (workers.length < count) {
      await Promise.all(workers.map((w) => w.terminate()));
      return undefined;
    }
    return new ChunkPool(workers);
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Checks a chunk; never rejects (a worker's failure is an `error` result). */
  run(task: ChunkTask): Promise<ChunkResult> {
    return new Promise((resolve) => {
      if (this.#broken !== undefined) resolve({ id: task.id, status: 'error', message: this.#broken });
      else {
        this.#queue.push({ task, resolve });
        this.#next();
      }
    });
  }

  async close(): Promise<void> {
    this.#broken ??= 'the pool is closed';
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  #next(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop()!;
      const job = this.#queue.shift()!;
      this.#running.set(worker, job);
      worker.postMessage(job.task);
    }
  }

  #done(worker: Worker, result: ChunkResult): void {
    const job = this.#running.get(worker);
    this.#running.delete(worker);
    this.#idle.push(worker);
    job?.resolve(result);
    this.#next();
  }

  #fail(worker: Worker, message: string): void {
    this.#broken ??= message;
    const job = this.#running.get(worker);
    this.#running.delete(worker);
    job?.resolve({ id: job.task.id, status: 'error', message });
    for (const queued of this.#queue.splice(0)) queued.resolve({ id: queued.task.id, status: 'error', message });
  }
}

export type ChunkedOutcome = 'verified' | 'failed' | 'moved' | 'error';

export interface ChunkedLog {
  db: Db;
  reader: LogBatchReader;
  origin: string;
  size: number;
  inRoster: boolean;
  level: number;
  report: OriginReport;
  checkpoints: CheckpointCheck;
  onProgress: ((verified: number) => void) | undefined;
}

let nextTaskId = 0;

/**
 * Verifies one origin's log of `size` entries on the pool. The result when everything verified,
 * else the outcome that sends the origin back to the one-thread walk.
 */
export async function verifyChunked(pool: ChunkPool, log: ChunkedLog): Promise<OriginVerification | ChunkedOutcome> {
  const { origin, size, report, checkpoints, level } = log;
  const width = 2 ** level;
  const chunks = Math.ceil(size / width);
  const tree = new TreeCheck(log.reader, origin, report, { level });
  const ledger = new RetractionLedger(origin, report);
  const listingIndices = new IndexSet();

  // Tasks are handed out a few ahead of the one being composed, so no worker waits for this thread.
  // A result is dropped once composed: memory holds the chunks in flight, not the log.
  const pending: (Promise<ChunkResult> | undefined)[] = [];
  const dispatch = async (upTo: number) => {
    for (let c = pending.length; c < Math.min(chunks, upTo); c++) {
      const begin = c * width;
      const end = Math.min(size, begin + width);
      const checkpointSizes = await log.reader.checkpointSizes(origin, begin, end);
      pending.push(pool.run({ id: nextTaskId++, origin, size, begin, end, level, inRoster: log.inRoster, checkpointSizes }));
    }
  };

  // The chunks in flight finish before the origin is walked again on this thread.
  const abandon = async (outcome: ChunkedOutcome) => {
    await Promise.all(pending);
    return outcome;
  };

  await checkpoints.load(-1, 0);
  checkpoints.check(0, tree.root(), undefined);
  for (let c = 0; c < chunks; c++) {
    await dispatch(c + 2 * pool.size);
    const result = await pending[c]!;
    pending[c] = undefined;
    if (result.status !== 'verified') return abandon(result.status);
    const begin = c * width;
    const end = Math.min(size, begin + width);
    if (result.deferred.some((target) => !listingIndices.has(target - 1))) return abandon('failed');
    listingIndices.addBits(result.bitsOrigin, result.listingBits);
    // A claim names a later retraction, so the claims of rows before a retraction are all it needs.
    let k = 0;
    for (const r of result.retractions) {
      for (; k < result.claims.length && result.claims[k]!.claim.target < r.seq; k++) ledger.claim(result.claims[k]!.retractionSeq, result.claims[k]!.claim);
      ledger.retract(r);
    }
    for (; k < result.claims.length; k++) ledger.claim(result.claims[k]!.retractionSeq, result.claims[k]!.claim);

    await checkpoints.load(begin, end);
    const before = tree.subtreeHashes();
    for (const prefix of result.prefixes) checkpoints.check(prefix.size, rootOf([...before, ...prefix.hashes]), prefix.time);
    // The last chunk, if partial, has no root of its own: its share of the tree is in its prefixes.
    if (end - begin === width) tree.append(result.hashes[0]!);
    await tree.flush();
    log.onProgress?.(end);
    if (report.failed) return abandon('failed');
  }
  await tree.finish(size);
  await checkpoints.finish(size);
  await checkRowsBeyond(log.db, origin, size, report);
  ledger.finish();
  if (report.failed) return 'failed';
  report.entries = size;
  return report.result();
}
