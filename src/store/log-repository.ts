/**
 * Append-only storage of logs: entries (exact signed bytes) and the Merkle nodes over them.
 * Reading is open to anyone holding the database; appending exists only on LogWriter, which is
 * built from a transaction, so an entry and its tree nodes always land together or not at all.
 * There is no update and no delete.
 */
import type { Kysely, Transaction } from 'kysely';
import { CompactRange } from '../log/compact-range.js';
import { leafHash, perfectSubtrees } from '../log/merkle.js';
import { kyselyBulkAppend, type BulkAppend, type BulkAppendFor } from './bulk-append.js';
import type { Database } from './tables.js';

export interface StoredEntry {
  seq: number;
  bytes: Uint8Array;
}

export interface NewEntry {
  seq: number;
  kind: 'listing' | 'retraction';
  time: string;
  bytes: Uint8Array;
  /** leafHash(bytes), when the caller already computed it (the sync ingest does, to prove a page). */
  leafHash?: Uint8Array;
}

export interface SubtreeRef {
  level: number;
  index: number;
}

export class LogReader {
  constructor(protected readonly db: Kysely<Database> | Transaction<Database>) {}

  /** Number of entries held for an origin (= its last seq, since seq is gap-free from 1). */
  async size(origin: string): Promise<number> {
    const row = await this.db
      .selectFrom('log_entries')
      .select((eb) => eb.fn.max('seq').as('size'))
      .where('origin', '=', origin)
      .executeTakeFirst();
    return Number(row?.size ?? 0);
  }

  /** Entries with fromSeq ≤ seq ≤ toSeq, in order. */
  async entries(origin: string, fromSeq: number, toSeq: number): Promise<StoredEntry[]> {
    const rows = await this.db.selectFrom('log_entries').select(['seq', 'bytes']).where('origin', '=', origin).where('seq', '>=', fromSeq).where('seq', '<=', toSeq).orderBy('seq').execute();
    return rows.map((r) => ({ seq: Number(r.seq), bytes: new Uint8Array(r.bytes) }));
  }

  async entry(origin: string, seq: number): Promise<StoredEntry | undefined> {
    const [row] = await this.entries(origin, seq, seq);
    return row;
  }

  /**
   * Which of these seqs of the origin's log hold a listing entry (by the stored kind column, which
   * the ingest and the node's own appends write from the validated entry). For the log validation's
   * lookup of retraction targets (log/validate.ts).
   */
  async listingSeqs(origin: string, seqs: readonly number[]): Promise<Set<number>> {
    const out = new Set<number>();
    const unique = [...new Set(seqs)];
    // Chunked so a page of retractions stays under SQLite's bound-parameter limit.
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await this.db
        .selectFrom('log_entries')
        .select('seq')
        .where('origin', '=', origin)
        .where('seq', 'in', unique.slice(i, i + 500))
        .where('kind', '=', 'listing')
        .execute();
      for (const r of rows) out.add(Number(r.seq));
    }
    return out;
  }

  /** Hashes of the given complete subtrees, in the order asked; throws if one is missing. */
  async subtreeHashes(origin: string, refs: readonly SubtreeRef[]): Promise<Uint8Array[]> {
    if (refs.length === 0) return [];
    const rows = await this.db
      .selectFrom('tree_nodes')
      .select(['level', 'idx', 'hash'])
      // Each disjunct names the whole primary key, so SQLite answers every term with an index
      // lookup (MULTI-INDEX OR); with `origin` factored out it scanned every node of the origin.
      .where((eb) => eb.or(refs.map((r) => eb.and([eb('origin', '=', origin), eb('level', '=', r.level), eb('idx', '=', r.index)]))))
      .execute();
    const byKey = new Map(rows.map((r) => [`${r.level}/${Number(r.idx)}`, new Uint8Array(r.hash)]));
    return refs.map((r) => {
      const hash = byKey.get(`${r.level}/${r.index}`);
      if (!hash) throw new Error(`tree node ${origin} ${r.level}/${r.index} is missing`);
      return hash;
    });
  }

  /** The right edge of the origin's tree of the given size, from which it can be extended. */
  async compactRange(origin: string, size: number): Promise<CompactRange> {
    const refs = perfectSubtrees(0, size);
    return new CompactRange(size, await this.subtreeHashes(origin, refs));
  }

  /** Origins with at least one entry and their sizes. */
  async origins(): Promise<{ origin: string; size: number }[]> {
    const rows = await this.db
      .selectFrom('log_entries')
      .select((eb) => ['origin', eb.fn.max('seq').as('size')])
      .groupBy('origin')
      .orderBy('origin')
      .execute();
    return rows.map((r) => ({ origin: r.origin, size: Number(r.size) }));
  }
}

export class LogWriter extends LogReader {
  readonly #bulk: BulkAppend;

  /**
   * @param bulk how the rows are written (bulk-append.ts): an engine's fast adapter for the
   * transaction `trx` (`bulkAppendOf`), or by default the dialect-neutral Kysely statements.
   */
  constructor(trx: Transaction<Database>, bulk: BulkAppendFor = kyselyBulkAppend) {
    super(trx);
    this.#bulk = bulk(trx);
  }

  /**
   * Appends entries that continue the origin's log exactly (the first seq is size + 1, no gaps),
   * with every Merkle node they complete. Returns the new tree so callers can read its root.
   */
  async append(origin: string, entries: readonly NewEntry[]): Promise<CompactRange> {
    const size = await this.size(origin);
    const tree = await this.compactRange(origin, size);
    const nodes: { origin: string; level: number; idx: number; hash: Uint8Array }[] = [];
    const rows = entries.map((e, i) => {
      if (e.seq !== size + i + 1) throw new Error(`log ${origin}: entry seq ${e.seq} does not follow ${size + i}`);
      const hash = e.leafHash ?? leafHash(e.bytes);
      for (const n of tree.append(hash)) nodes.push({ origin, level: n.level, idx: n.index, hash: n.hash });
      return { origin, seq: e.seq, kind: e.kind, time: e.time, bytes: e.bytes, leaf_hash: hash };
    });
    await this.#bulk.appendLog(rows, nodes);
    return tree;
  }
}
