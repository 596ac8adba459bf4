/**
 * Prepares and commits the pages of mirrored logs on a worker thread with its own database
 * connection (ingest-commit-worker.ts, over the functions of ingest-commit.ts): the same SQLite
 * file, or a small pool of its own on the same PostgreSQL database (store/database.ts,
 * `reopenOptions`). A large sync is
 * mostly parsing, hashing and decoding entries, inserts and the fsync of each commit: on the main
 * thread they held every check behind them (docs/BENCHMARKS.md, "Checks during a large sync").
 * The worker's commits take the write lock like any other connection (BEGIN IMMEDIATE on SQLite,
 * the writer lock on PostgreSQL), and the main thread's token filter sees them as it sees another
 * process's (SQLite's data_version; the change feed's notifications on PostgreSQL).
 *
 * The worker is started on the first page. Should it fail to start or die, the pipeline says so
 * once and works on the calling thread from then on: a sync never stops for want of a thread. A
 * page the dead worker held is gone with it; its ingest fails and the next round fetches it again.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { reopenOptions, type OpenDatabaseOptions } from '../store/database.js';
import type { Database } from '../store/tables.js';
import { inProcessPipeline, type IngestPipeline, type PageRequest, type PipelineJob, type PipelineReply, type PreparedPage, type ProvenSlice } from './ingest-commit.js';

interface Waiting {
  resolve: (reply: Extract<PipelineReply, { ok: true }>) => void;
  reject: (err: Error) => void;
}

/** Distributes the job types over the message union without repeating its shape. */
type JobBody = PipelineJob extends infer J ? (J extends PipelineJob ? Omit<J, 'id'> : never) : never;

/** The compiled worker beside this module; absent when the sources run uncompiled (vitest). */
export const DEFAULT_COMMIT_WORKER = new URL('./ingest-commit-worker.js', import.meta.url);

/** Pages held by the worker carry this offset, so that they are never mistaken for the fallback's. */
const WORKER_PAGE = 1 << 30;
/**
 * The worker's own PostgreSQL connections: its jobs run one at a time, so one would do; the
 * second keeps a prepare from waiting on a connection a failed commit is still giving back.
 */
const WORKER_POOL_SIZE = 2;
/** How long a stop waits for the worker to close its connection before it ends the thread anyway. */
const CLOSE_DEADLINE_MS = 5_000;

export class WorkerPipeline implements IngestPipeline {
  private readonly fallback: IngestPipeline;
  private worker: Promise<Worker | undefined> | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing = false;

  constructor(
    db: Kysely<Database>,
    private readonly script: URL,
    private readonly logger: Logger,
    private readonly open: OpenDatabaseOptions,
  ) {
    this.fallback = inProcessPipeline(db);
  }

  /** A worker pipeline where a second connection can be opened and the worker script exists, else this thread. */
  static create(db: Kysely<Database>, logger: Logger, script: URL = DEFAULT_COMMIT_WORKER): IngestPipeline {
    const open = reopenOptions(db, WORKER_POOL_SIZE);
    const usable = open !== undefined && script.protocol === 'file:' && existsSync(fileURLToPath(script));
    return usable ? new WorkerPipeline(db, script, logger, open) : inProcessPipeline(db);
  }

  async prepare(request: PageRequest): Promise<PreparedPage> {
    const worker = await this.started();
    if (!worker) return this.fallback.prepare(request);
    // The body crosses without a copy where it owns its buffer (a small one may sit in Node's pool).
    const body = request.body;
    const transfer = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? [body.buffer as ArrayBuffer] : [];
    const { prepared } = await this.send(worker, { type: 'prepare', request }, transfer);
    if (!prepared) throw new Error('the ingest worker answered a prepare without a page');
    return prepared.ok ? { ...prepared, page: prepared.page + WORKER_PAGE } : prepared;
  }

  async commit(page: number, from: number, to: number, checkpoint: ProvenSlice['checkpoint'], at: string): Promise<void> {
    if (page < WORKER_PAGE) return this.fallback.commit(page, from, to, checkpoint, at);
    const worker = await this.started();
    if (!worker) throw new Error('the ingest worker stopped: the page it held is gone');
    await this.send(worker, { type: 'commit', page: page - WORKER_PAGE, from, to, checkpoint, at });
  }

  release(page: number): void {
    if (page < WORKER_PAGE) return this.fallback.release(page);
    void this.started().then((worker) => worker && this.send(worker, { type: 'release', page: page - WORKER_PAGE }).catch(() => undefined));
  }

  /**
   * Stops the worker once the jobs sent to it are done or refused (none is cut mid-way) and it has
   * closed its database connection; a later page starts a new one. The wait is bounded: a commit
   * waits for the write lock at most the engine's lock timeout, then fails, and the close itself
   * at most CLOSE_DEADLINE_MS.
   */
  async close(): Promise<void> {
    const starting = this.worker;
    if (!starting) return;
    this.closing = true;
    try {
      await Promise.allSettled([...this.inFlight]);
      const worker = await starting;
      if (worker) {
        let deadline: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => (deadline = setTimeout(resolve, CLOSE_DEADLINE_MS)));
        await Promise.race([this.send(worker, { type: 'close' }).catch(() => undefined), late]);
        clearTimeout(deadline);
        await worker.terminate();
      }
    } finally {
      this.worker = undefined;
      this.closing = false;
    }
  }

  private send(worker: Worker, job: JobBody, transfer: ArrayBuffer[] = []): Promise<Extract<PipelineReply, { ok: true }>> {
    const id = this.nextId++;
    const done = new Promise<Extract<PipelineReply, { ok: true }>>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ ...job, id } as PipelineJob, transfer);
    });
    const tracked = done.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return done;
  }

  private started(): Promise<Worker | undefined> {
    this.worker ??= new Promise<Worker | undefined>((resolve) => {
      const worker = new Worker(this.script, { workerData: { open: this.open } });
      let ready = false;
      worker.on('message', (message: PipelineReply | { ready: true }) => {
        if ('ready' in message) {
          ready = true;
          return resolve(worker);
        }
        const waiting = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        if (message.ok) waiting?.resolve(message);
        else waiting?.reject(new Error(`the ingest worker failed: ${message.message}`));
      });
      const fail = (why: string) => {
        if (this.closing) return;
        this.logger.warn({ reason: why }, 'ingest worker unavailable: preparing and committing pages on the main thread');
        this.worker = Promise.resolve(undefined);
        for (const w of this.waiting.values()) w.reject(new Error(`the ingest worker stopped: ${why}`));
        this.waiting.clear();
        if (!ready) resolve(undefined);
      };
      worker.on('error', (err) => fail(err.message));
      worker.on('exit', (code) => fail(`exited with code ${code}`));
    });
    return this.worker;
  }
}
