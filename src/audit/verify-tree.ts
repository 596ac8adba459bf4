/**
 * Recomputes an origin's RFC 9162 Merkle tree from its leaf hashes and compares every perfect
 * subtree it completes with the stored `tree_nodes` row. Those rows are what inclusion and
 * consistency proofs, receipts and peers' syncs are served from (src/store/proofs.ts), so a
 * tampered or missing node would hand out wrong proofs even while the entries are intact.
 *
 * Nodes are compared a batch at a time, one prepared range query per level, so memory is bounded
 * by the batch size. Hashing is the native SHA-256 throughout: about one leaf and one node hash
 * per entry is most of a whole-log verification's hashing.
 */
import type SQLite from 'better-sqlite3';
import { bytesEqual } from '../crypto/encoding.js';
import { sha256Native } from '../crypto/index.js';
import { CompactRange } from '../log/compact-range.js';
import type { OriginReport } from './verify-report.js';


/**
 * One scratch buffer for the prefixed inputs of the two hashes below: they run a million times in a
 * verification, and a fresh concatenation each time was a visible share of the garbage collected.
 * The hash copies its input, so reusing the buffer is safe; it grows for a larger entry.
 */
let scratch = new Uint8Array(1024);

function prefixed(prefix: number, parts: readonly Uint8Array[]): Uint8Array {
  let length = 1;
  for (const p of parts) length += p.length;
  if (length > scratch.length) scratch = new Uint8Array(Math.max(length, scratch.length * 2));
  scratch[0] = prefix;
  let offset = 1;
  for (const p of parts) {
    scratch.set(p, offset);
    offset += p.length;
  }
  return scratch.subarray(0, length);
}

/**
 * The RFC 9162 leaf hash SHA-256(0x00 ‖ data), as `leafHash` in src/log/merkle.ts, with the native
 * SHA-256: one per entry over a few hundred bytes, it was the largest share of the hashing.
 */
export function leafHashNative(data: Uint8Array): Uint8Array {
  return sha256Native(prefixed(0x00, [data]));
}

/** The RFC 9162 node hash SHA-256(0x01 ‖ left ‖ right), as `nodeHash` in src/log/merkle.ts, natively. */
export function nodeHashNative(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256Native(prefixed(0x01, [left, right]));
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
  readonly #tree = new CompactRange(0, [], nodeHashNative);
  /** Indexed by level. */
  #runs: LevelRun[] = [];
  readonly #nodes: SQLite.Statement<[string, number, number, number], [number, Uint8Array]>;
  readonly #count: SQLite.Statement<[string], number>;

  /** `sqlite` must be the connection of the read transaction the whole verification runs in. */
  constructor(
    sqlite: SQLite.Database,
    private readonly origin: string,
    private readonly report: OriginReport,
  ) {
    this.#nodes = sqlite
      .prepare<[string, number, number, number], [number, Uint8Array]>('SELECT idx, hash FROM tree_nodes WHERE origin = ? AND level = ? AND idx >= ? AND idx < ? ORDER BY idx')
      .raw();
    this.#count = sqlite.prepare<[string], number>('SELECT count(*) FROM tree_nodes WHERE origin = ?').pluck();
  }

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
  flush(): void {
    const runs = this.#runs;
    this.#runs = [];
    runs.forEach((run, level) => {
      const rows = this.#nodes.all(this.origin, level, run.first, run.first + run.hashes.length);
      let i = 0;
      for (let k = 0; k < run.hashes.length; k++) {
        const index = run.first + k;
        const row = rows[i];
        if (row === undefined || row[0] !== index) {
          this.fail('tree_node_missing', level, index, 'is missing');
          continue;
        }
        i++;
        if (!bytesEqual(row[1], run.hashes[k]!)) this.fail('tree_node_mismatch', level, index, 'differs from the one recomputed from the entries');
      }
    });
  }

  /** After the last batch: no stored node may lie outside the tree. */
  finish(): void {
    this.flush();
    const stored = this.#count.get(this.origin) ?? 0;
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
