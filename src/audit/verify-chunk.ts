/**
 * Verifies one chunk of an origin's log: the leaves [begin, end), where begin is a multiple of the
 * chunk size 2^level, so the chunk is a perfect subtree (or, the last one, the left part of one)
 * and independent of the rest of the tree. Every check of an entry, of the stored Merkle nodes
 * within the chunk and of the projection's rows is made here; what spans chunks (retractions of
 * earlier listings, the ledger of retractions, the nodes above the chunk, the checkpoints) is
 * returned for the thread that walks the chunks in order (verify-parallel.ts).
 *
 * A chunk either verifies or not: a chunk with any failure is reported as failed, without detail,
 * and its origin is verified again in one thread, which gives the report (every failure, its
 * message and the first failing index) exactly as a walk in one thread always has.
 */
import type { RetractionEntry } from '../log/entry.js';
import type { Roster } from '../roster/schema.js';
import type { LogBatchReader } from '../store/log-batch-reader.js';
import { entryReads, newWalk, walkEntries, type EntryReads } from './verify-entries.js';
import { ProjectionRows, type RetractionClaim } from './verify-projection.js';
import { OriginReport } from './verify-report.js';
import { TreeCheck, type BinaryHash } from './verify-tree.js';

export interface ChunkTask {
  id: number;
  origin: string;
  /** The origin's log size in the snapshot of the coordinating thread's read transaction. */
  size: number;
  /** First leaf index; a multiple of 2^level. */
  begin: number;
  /** One past the last leaf index: begin + 2^level, or the log size for the last chunk. */
  end: number;
  level: number;
  /** Whether the origin is in the roster, so that its suspension applies. */
  inRoster: boolean;
  /** Sizes in (begin, end] at which a checkpoint is stored: the chunk's part of their roots is returned. */
  checkpointSizes: number[];
}

/**
 * Entries read and compared at a time. Smaller than a one-thread walk's batch: what a batch keeps
 * alive (rows, decoded entries, hashes) then mostly dies young, which the worker's young
 * generation (verify-parallel.ts) collects cheaply.
 */
const CHUNK_BATCH = 1024;

/** The chunk's share of the tree at a checkpoint's size, and the stored time of its last entry. */
export interface ChunkPrefix {
  size: number;
  /** The compact range of leaves [begin, size). */
  hashes: BinaryHash[];
  time: string;
}

export interface ChunkVerified {
  id: number;
  status: 'verified';
  /** The compact range of the whole chunk: its root alone when the chunk is complete. */
  hashes: BinaryHash[];
  prefixes: ChunkPrefix[];
  /** Which leaves of the chunk are listings, a bit each from `bitsOrigin` (begin rounded down to a multiple of 8). */
  listingBits: Uint8Array;
  bitsOrigin: number;
  /** Seqs of the listings that retractions in the chunk target before it: they must be listings. */
  deferred: number[];
  /** The rows' claims in seq order, each with the seq of the retraction it names. */
  claims: { retractionSeq: number; claim: RetractionClaim }[];
  /** The chunk's retractions in log order, for the ledger. */
  retractions: RetractionEntry[];
}

/**
 * `failed`: something in the chunk does not verify. `moved`: this thread's snapshot holds a
 * different log size for the origin than the coordinating thread's (a node appended in between),
 * so the chunk cannot be checked as part of that snapshot.
 */
export type ChunkResult = ChunkVerified | { id: number; status: 'failed' | 'moved' } | { id: number; status: 'error'; message: string };

/** Checks chunks through one reader, which must read inside one read snapshot for all of them. */
export class ChunkVerifier {
  readonly #reads: EntryReads;
  /** Origin → whether this snapshot holds the same log size as the coordinator's. */
  readonly #sameSize = new Map<string, boolean>();

  constructor(
    private readonly reader: LogBatchReader,
    private readonly roster: Roster | undefined,
  ) {
    this.#reads = entryReads(reader);
  }

  async verify(task: ChunkTask): Promise<ChunkResult> {
    const { id, origin, begin, end } = task;
    let same = this.#sameSize.get(origin);
    if (same === undefined) this.#sameSize.set(origin, (same = (await this.reader.logSize(origin)) === task.size));
    // The log is append-only: the same size is the same log, and its projection rows with it.
    if (!same) return { id, status: 'moved' };

    const report = new OriginReport(origin);
    const walk = newWalk(origin, task.inRoster ? this.roster : undefined, report, begin);
    const tree = new TreeCheck(this.reader, origin, report, { begin, top: task.level });
    const claims: ChunkVerified['claims'] = [];
    const projection = new ProjectionRows(this.reader, origin, report, (retractionSeq, claim) => claims.push({ retractionSeq, claim }));
    const retractions: RetractionEntry[] = [];
    const prefixes: ChunkPrefix[] = [];
    let nextCheckpoint = 0;

    let seq = begin;
    const onLeaf = (leafHash: BinaryHash, storedTime: string) => {
      tree.append(leafHash);
      seq++;
      if (task.checkpointSizes[nextCheckpoint] === seq) {
        prefixes.push({ size: seq, hashes: tree.subtreeHashes(), time: storedTime });
        nextCheckpoint++;
      }
    };
    for (let first = begin + 1; first <= end; first += CHUNK_BATCH) {
      const last = Math.min(end, first + CHUNK_BATCH - 1);
      if ((await walkEntries(walk, this.#reads, first, last, onLeaf)) !== last - first + 1) return { id, status: 'failed' };
      await tree.flush();
      await projection.check(first, last, walk.listings);
      for (const r of walk.retractions) retractions.push(r);
      if (report.failed) return { id, status: 'failed' };
    }
    return {
      id,
      status: 'verified',
      hashes: tree.subtreeHashes(),
      prefixes,
      listingBits: walk.listingIndices.bits(end),
      bitsOrigin: walk.listingIndices.bitsOrigin,
      deferred: walk.deferred,
      claims,
      retractions,
    };
  }
}
