/**
 * The worker side of WorkerCommitter (worker-committer.ts): commits proven slices of mirrored logs
 * over its own SQLite connection, so the inserts and the commit's fsync of a large sync do not run
 * on the thread that answers checks. Messages stay inside the process.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../store/database.js';
import { commitProvenSlice, unpackSlice, type CommitJob, type CommitReply } from './ingest-commit.js';

const { file } = workerData as { file: string };
/**
 * The commits of a large sync yield the CPU to the thread that answers checks: on Linux the nice
 * value is per thread, so this lowers only this worker (docs/BENCHMARKS.md, "Checks during a large
 * sync"). Where the system refuses, the worker runs at the normal priority: slower checks, never a
 * lost commit.
 */
const COMMIT_NICE = 10;
try {
  setPriority(0, COMMIT_NICE);
} catch {
  // Not permitted here (a container without CAP_SYS_NICE may still lower; some systems refuse).
}

// Jobs arrive one after another and are committed in that order: a slice must follow the one before.
let chain: Promise<void> = Promise.resolve();
const handle = await openDatabase({ driver: 'sqlite', file, migrate: false });
parentPort?.on('message', (job: CommitJob) => {
  chain = chain.then(async () => {
    try {
      await commitProvenSlice(handle.db, unpackSlice(job));
      parentPort?.postMessage({ id: job.id, ok: true } satisfies CommitReply);
    } catch (err) {
      parentPort?.postMessage({ id: job.id, ok: false, message: err instanceof Error ? err.message : String(err) } satisfies CommitReply);
    }
  });
});
parentPort?.postMessage({ ready: true });
