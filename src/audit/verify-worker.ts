/**
 * The worker thread of a parallel `jointban verify` (verify-parallel.ts): opens the store read-only
 * on its own connection, starts one read transaction that every chunk it is given is checked in
 * (verify-chunk.ts), and answers each task with its result. A thread of the shell, like the CLI.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Roster } from '../roster/schema.js';
import { openSqlite } from '../store/sqlite-connection.js';
import { ChunkVerifier, type ChunkResult, type ChunkTask } from './verify-chunk.js';

export interface VerifyWorkerData {
  file: string;
  roster: Roster | undefined;
}

const port = parentPort;
if (port === null) throw new Error('verify-worker.js runs as a worker thread');
const { file, roster } = workerData as VerifyWorkerData;
const sqlite = openSqlite(file, true);
// Deferred: the snapshot is taken at the first read, after the coordinator's own began; each
// chunk compares the origin's log size with the coordinator's before trusting it (ChunkVerifier).
sqlite.exec('BEGIN');
const verifier = new ChunkVerifier(sqlite, roster);
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
