/**
 * The worker thread of a parallel `jointban verify` (verify-parallel.ts): opens a log batch reader
 * of its own on the store (read-only, one read snapshot that every chunk it is given is checked
 * in: verify-chunk.ts), and answers each task with its result, one task at a time. A thread of the
 * shell, like the CLI. A reader that cannot open (a PostgreSQL server that refuses the connection,
 * a snapshot no longer importable) ends the thread with an error before `ready`: the pool then does
 * not start and the coordinator walks the logs itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Roster } from '../roster/schema.js';
import { openLogBatchReader, type LogReaderTarget } from '../store/log-batch-reader.js';
import { ChunkVerifier, type ChunkResult, type ChunkTask } from './verify-chunk.js';

export interface VerifyWorkerData {
  target: LogReaderTarget;
  roster: Roster | undefined;
}

const port = parentPort;
if (port === null) throw new Error('verify-worker.js runs as a worker thread');
const { target, roster } = workerData as VerifyWorkerData;
// On SQLite the snapshot is taken at the first read, after the coordinator's own began; each chunk
// compares the origin's log size with the coordinator's before trusting it (ChunkVerifier). On
// PostgreSQL it is the coordinator's own, imported.
const reader = await openLogBatchReader(target);
const verifier = new ChunkVerifier(reader, roster);
port.on('message', (task: ChunkTask) => {
  // The pool hands a worker its next task only after this one's result (verify-parallel.ts).
  void verifier.verify(task).then(
    (result) => port.postMessage(result),
    (err: unknown) => port.postMessage({ id: task.id, status: 'error', message: err instanceof Error ? err.message : String(err) } satisfies ChunkResult),
  );
});
port.postMessage('ready');
