/**
 * Commits proven slices of mirrored logs on a worker thread with its own SQLite connection
 * (ingest-commit-worker.ts). A large sync is mostly inserts and the fsync of each commit: on the
 * main thread they held every check behind them (docs/BENCHMARKS.md, "Checks during a large sync").
 * The worker's commits take the write lock like any other connection (BEGIN IMMEDIATE), and the
 * main thread's token filter sees them through SQLite's data_version, as it sees another process's.
 *
 * The worker is started on the first commit. Should it fail to start or die, the committer says so
 * once and commits on the calling thread from then on: a sync never stops for want of a thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { sqliteOf } from '../store/database.js';
import type { Database } from '../store/tables.js';
import { inProcessCommitter, packSlice, type CommitReply, type ProvenSlice, type SliceCommitter } from './ingest-commit.js';

interface Waiting {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The compiled worker beside this module; absent when the sources run uncompiled (vitest). */
export const DEFAULT_COMMIT_WORKER = new URL('./ingest-commit-worker.js', import.meta.url);

export class WorkerCommitter implements SliceCommitter {
  private readonly fallback: SliceCommitter;
  private worker: Promise<Worker | undefined> | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly script: URL,
    private readonly logger: Logger,
  ) {
    this.fallback = inProcessCommitter(db);
  }

  /** A worker committer where the database is a file and the worker script exists, else this thread. */
  static create(db: Kysely<Database>, logger: Logger, script: URL = DEFAULT_COMMIT_WORKER): SliceCommitter {
    const raw = sqliteOf(db);
    const usable = raw !== undefined && !raw.memory && !raw.readonly && script.protocol === 'file:' && existsSync(fileURLToPath(script));
    return usable ? new WorkerCommitter(db, script, logger) : inProcessCommitter(db);
  }

  async commit(slice: ProvenSlice): Promise<void> {
    const worker = await this.started();
    if (!worker) return this.fallback.commit(slice);
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const { job, transfer } = packSlice(id, slice);
      worker.postMessage(job, transfer);
    });
    const tracked = done.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    return done;
  }

  /**
   * Stops the worker once the slices sent to it are committed or refused (none is cut mid-way); a
   * later commit starts a new one. The wait is bounded: a commit waits for the write lock at most
   * SQLite's busy timeout, then fails.
   */
  async close(): Promise<void> {
    const starting = this.worker;
    if (!starting) return;
    this.closing = true;
    try {
      await Promise.allSettled([...this.inFlight]);
      await (await starting)?.terminate();
    } finally {
      this.worker = undefined;
      this.closing = false;
    }
  }

  private started(): Promise<Worker | undefined> {
    this.worker ??= new Promise<Worker | undefined>((resolve) => {
      const file = sqliteOf(this.db)!.name;
      const worker = new Worker(this.script, { workerData: { file } });
      let ready = false;
      worker.on('message', (message: CommitReply | { ready: true }) => {
        if ('ready' in message) {
          ready = true;
          return resolve(worker);
        }
        const waiting = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        if (message.ok) waiting?.resolve();
        else waiting?.reject(new Error(`committing a proven slice failed: ${message.message}`));
      });
      const fail = (why: string) => {
        if (this.closing) return;
        this.logger.warn({ reason: why }, 'ingest commit worker unavailable: committing on the main thread');
        this.worker = Promise.resolve(undefined);
        for (const w of this.waiting.values()) w.reject(new Error(`the ingest commit worker stopped: ${why}`));
        this.waiting.clear();
        if (!ready) resolve(undefined);
      };
      worker.on('error', (err) => fail(err.message));
      worker.on('exit', (code) => fail(`exited with code ${code}`));
    });
    return this.worker;
  }
}
