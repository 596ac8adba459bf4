/**
 * The worker side of WorkerPipeline (worker-committer.ts): prepares the pages of mirrored logs
 * (parse, hash, decode, validate) and commits them over its own database connection (the options
 * come from store/database.ts, `reopenOptions`), so the bulk of a large sync does not run on the
 * thread that answers checks. Messages stay inside the process.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase, type OpenDatabaseOptions } from '../store/database.js';
import { LEAF_HASH_BYTES, PageStore, type PipelineJob, type PipelineReply } from './ingest-commit.js';

const { open } = workerData as { open: OpenDatabaseOptions };
/**
 * A large sync yields the CPU to the thread that answers checks: on Linux the nice value is per
 * thread, so this lowers only this worker (docs/BENCHMARKS.md, "Checks during a large sync").
 * Where the system refuses, the worker runs at the normal priority: slower checks, never a lost
 * commit.
 */
const COMMIT_NICE = 10;
try {
  setPriority(0, COMMIT_NICE);
} catch {
  // Not permitted here: the normal priority it is.
}

// Jobs arrive one after another and run in that order: a slice must follow the one before, and a
// page is prepared against the tree as committed so far.
let chain: Promise<void> = Promise.resolve();
const handle = await openDatabase(open);
const pages = new PageStore(handle.db);
const reply = (message: PipelineReply, transfer: ArrayBuffer[] = []) => parentPort?.postMessage(message, transfer);

parentPort?.on('message', (job: PipelineJob) => {
  chain = chain.then(async () => {
    try {
      if (job.type === 'prepare') {
        const prepared = await pages.prepare(job.request);
        if (!prepared.ok) return reply({ id: job.id, ok: true, prepared });
        // A copy crosses: the held page keeps its own hashes for the commits to come.
        const leafHashes = prepared.leafHashes.slice(0, prepared.count * LEAF_HASH_BYTES);
        return reply({ id: job.id, ok: true, prepared: { ...prepared, leafHashes } }, [leafHashes.buffer as ArrayBuffer]);
      }
      if (job.type === 'commit') await pages.commit(job.page, job.from, job.to, job.checkpoint, job.at);
      else if (job.type === 'close') await handle.close();
      else pages.release(job.page);
      reply({ id: job.id, ok: true });
    } catch (err) {
      reply({ id: job.id, ok: false, message: err instanceof Error ? err.message : String(err) });
    }
  });
});
parentPort?.postMessage({ ready: true });
