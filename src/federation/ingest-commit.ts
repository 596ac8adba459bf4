/**
 * Storing a proven slice of a mirrored log: its entries, tree nodes, listings projection (and the
 * watch events it records) and, at the end of a page, the checkpoint, in one transaction. One
 * function, run either on the node's main thread or on the ingest-commit worker
 * (ingest-commit-worker.ts, through worker-committer.ts) over a connection of its own: the rows are
 * the same either way (test/integration/ingest-commit-worker.test.ts compares them).
 *
 * Nothing here checks anything: the slice arrives proven (ingest.ts) and its note already cosigned
 * where this node is the witness, so the worker needs no key.
 */
import type { Kysely } from 'kysely';
import { decodeEntry, type ListingEntry, type LogEntry } from '../log/entry.js';
import { CheckpointRepository } from '../store/checkpoint-repository.js';
import { sqliteOf } from '../store/database.js';
import { ListingWriter } from '../store/listing-repository.js';
import { LogWriter } from '../store/log-repository.js';
import type { Database } from '../store/tables.js';

export interface ProvenSlice {
  origin: string;
  entries: { entry: LogEntry; bytes: Uint8Array; leafHash: Uint8Array }[];
  /** The checkpoint the slice completes (the last slice of the signed tree), note as it is to be stored. */
  checkpoint?: { size: number; root: Uint8Array; note: string } | undefined;
  /** Stamps the watch events and the checkpoint row (ISO 8601). */
  at: string;
}

export async function commitProvenSlice(db: Kysely<Database>, slice: ProvenSlice): Promise<void> {
  const raw = sqliteOf(db);
  const { origin, entries, checkpoint, at } = slice;
  await db.transaction().execute(async (trx) => {
    const log = new LogWriter(trx, raw);
    const listings = new ListingWriter(trx, new Date(at), raw);
    await log.append(
      origin,
      entries.map(({ bytes, entry, leafHash }) => ({ seq: entry.seq, kind: entry.kind, time: entry.time, bytes, leafHash })),
    );
    // Consecutive listings go in as one run; a retraction must see the listings before it.
    let run: { entry: ListingEntry; reference: null }[] = [];
    for (const { entry } of entries) {
      if (entry.kind === 'listing') {
        run.push({ entry, reference: null });
        continue;
      }
      await listings.insertListings(run);
      run = [];
      // A retraction of a listing already retracted or unknown changes nothing in the projection;
      // the entry itself stays in the log as the origin signed it.
      await listings.applyRetraction(entry);
    }
    await listings.insertListings(run);
    if (checkpoint) await new CheckpointRepository(trx).insert({ origin, ...checkpoint }, at);
  });
}

/**
 * A slice as it crosses to the worker: the entries' bytes end to end in one buffer and their leaf
 * hashes in another, both transferred, not copied; the worker decodes the entries again (the main
 * thread already validated them). Cloning thousands of decoded entries cost the main thread more
 * than committing them.
 */
export interface CommitJob {
  id: number;
  origin: string;
  bytes: Uint8Array;
  lengths: number[];
  leafHashes: Uint8Array;
  checkpoint: ProvenSlice['checkpoint'];
  at: string;
}

export type CommitReply = { id: number; ok: true } | { id: number; ok: false; message: string };

const LEAF_HASH_BYTES = 32;

export function packSlice(id: number, slice: ProvenSlice): { job: CommitJob; transfer: ArrayBuffer[] } {
  const bytes = Buffer.concat(slice.entries.map((e) => e.bytes));
  const leafHashes = Buffer.concat(slice.entries.map((e) => e.leafHash));
  const job: CommitJob = { id, origin: slice.origin, bytes, lengths: slice.entries.map((e) => e.bytes.byteLength), leafHashes, checkpoint: slice.checkpoint, at: slice.at };
  // Buffer.concat may return a view of Node's shared pool: transfer only a buffer of our own.
  const transfer = [bytes, leafHashes].filter((b) => b.byteOffset === 0 && b.byteLength === b.buffer.byteLength).map((b) => b.buffer as ArrayBuffer);
  return { job, transfer };
}

export function unpackSlice(job: CommitJob): ProvenSlice {
  let offset = 0;
  const entries = job.lengths.map((length, i) => {
    const bytes = job.bytes.subarray(offset, offset + length);
    offset += length;
    const decoded = decodeEntry(bytes);
    if (!decoded.ok) throw new Error(`entry ${i} of the slice does not decode: ${decoded.error}`);
    return { entry: decoded.entry, bytes, leafHash: job.leafHashes.subarray(i * LEAF_HASH_BYTES, (i + 1) * LEAF_HASH_BYTES) };
  });
  return { origin: job.origin, entries, checkpoint: job.checkpoint, at: job.at };
}

/** Where proven slices are committed: this thread, or a worker (worker-committer.ts). */
export interface SliceCommitter {
  commit(slice: ProvenSlice): Promise<void>;
  close(): Promise<void>;
}

export function inProcessCommitter(db: Kysely<Database>): SliceCommitter {
  return { commit: (slice) => commitProvenSlice(db, slice), close: async () => undefined };
}
