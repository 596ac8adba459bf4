/**
 * The worker thread of a parallel `jointban verify` (verify-parallel.ts): opens a log batch reader
 * of its own on the store (read-only, one read snapshot that every chunk it is given is checked
 * in: verify-chunk.ts), and answers each task with its result. A thread of the shell, like the CLI.
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
// The snapshot is taken at the first read, after the coordinator's own began; each chunk compares
// the origin's log size with the coordinator's before trusting it (ChunkVerifier).
const verifier = new ChunkVerifier(openLogBatchReader(target), roster);
port.on('message', (task: ChunkTask) => {
  let result: ChunkResult;
  try {
    result = verifier.verify(task);
  } catch (err) {
    result = { id: task.id, status: 'error', message: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(result);
});
port.postMessage('ready');
