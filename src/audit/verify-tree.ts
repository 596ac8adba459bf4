/**
 * Recomputes an origin's RFC 9162 Merkle tree from its leaf hashes and compares every perfect
 * subtree it completes with the stored `tree_nodes` row. Those rows are what inclusion and
 * consistency proofs, receipts and peers' syncs are served from (src/store/proofs.ts), so a
 * tampered or missing node would hand out wrong proofs even while the entries are intact.
 *
 * Nodes are compared a batch at a time with one query, so memory is bounded by the batch size.
 */
import type { Kysely, Transaction } from 'kysely';
import { bytesEqual, concatBytes } from '../crypto/encoding.js';
import { sha256Native } from '../crypto/index.js';
import { CompactRange } from '../log/compact-range.js';
import type { Database } from '../store/tables.js';
import type { OriginReport } from './verify-report.js';

type Db = Kysely<Database> | Transaction<Database>;

const LEAF_PREFIX = new Uint8Array([0x00]);

/**
 * The RFC 9162 leaf hash SHA-256(0x00 ‖ data), as `leafHash` in src/log/merkle.ts, with the native
 * SHA-256: one per entry over a few hundred bytes, it was the largest share of the hashing.
 */
export function leafHashNative(data: Uint8Array): Uint8Array {
  return sha256Native(concatBytes(LEAF_PREFIX, data));
}

/** The subtrees one level completed during a batch: consecutive indices from `first`. */
interface LevelRun {
  first: number;
  hashes: Uint8Array[];
}

/** Number of perfect subtrees (of every level, leaves included) in a tree of `size` leaves. */
export function storedNodeCount(size: number): number {
  let count = 0;
  for (let width = 1; width <= size; width *= 2) count += Math.floor(size / width);
  return count;
}

export class TreeCheck {
  readonly #tree = new CompactRange();
  /** Indexed by level. */
  #runs: LevelRun[] = [];

  constructor(
    private readonly db: Db,
    private readonly origin: string,
    private readonly report: OriginReport,
  ) {}

  get size(): number {
    return this.#tree.size;
  }

  root(): Uint8Array {
    return this.#tree.root();
  }

  append(leafHash: Uint8Array): void {
    for (const node of this.#tree.append(leafHash)) {
      const run = (this.#runs[node.level] ??= { first: node.index, hashes: [] });
      run.hashes.push(node.hash);
    }
  }

  /** Compares the nodes completed since the last flush with the stored ones. */
  async flush(): Promise<void> {
    const runs = this.#runs;
    this.#runs = [];
    const levels = runs.flatMap((run, level) => (run ? [{ level, ...run }] : []));
    if (levels.length === 0) return;
    const rows = await this.db
      .selectFrom('tree_nodes')
      .select(['level', 'idx', 'hash'])
      // The origin inside every term lets the planner search the primary key once per level
      // (SQLite's multi-index OR); outside the OR it scans every node of the origin.
      .where((eb) =>
        eb.or(
          levels.map((r) =>
            eb.and([eb('origin', '=', this.origin), eb('level', '=', r.level), eb('idx', '>=', r.first), eb('idx', '<', r.first + r.hashes.length)]),
          ),
        ),
      )
      .orderBy('level')
      .orderBy('idx')
      .execute();
    let i = 0;
    for (const run of levels) {
      for (let k = 0; k < run.hashes.length; k++) {
        const index = run.first + k;
        const row = rows[i];
        const stored = row !== undefined && row.level === run.level && Number(row.idx) === index ? row : undefined;
        if (stored === undefined) {
          this.fail('tree_node_missing', run.level, index, 'is missing');
          continue;
        }
        i++;
        if (!bytesEqual(stored.hash, run.hashes[k]!)) this.fail('tree_node_mismatch', run.level, index, 'differs from the one recomputed from the entries');
      }
    }
  }

  /** After the last batch: no stored node may lie outside the tree. */
  async finish(): Promise<void> {
    await this.flush();
    const row = await this.db
      .selectFrom('tree_nodes')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('origin', '=', this.origin)
      .executeTakeFirst();
    const stored = Number(row?.n ?? 0);
    const expected = storedNodeCount(this.size);
    if (stored > expected) {
      this.report.fail('tree_node_extra', `${stored - expected} stored tree nodes of ${this.origin} lie outside its tree of ${this.size} leaves`);
    }
  }

  private fail(kind: 'tree_node_missing' | 'tree_node_mismatch', level: number, index: number, what: string): void {
    // The leaf whose append completed the subtree: where the damage shows first in log order.
    const leaf = (index + 1) * 2 ** level - 1;
    const leaves = level === 0 ? `leaf ${leaf}` : `leaves ${index * 2 ** level}–${leaf}`;
    this.report.fail(kind, `tree node ${level}/${index} (${leaves}) of ${this.origin} ${what}`, { index: leaf });
  }
}
