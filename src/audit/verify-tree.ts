/**
 * Recomputes an origin's RFC 9162 Merkle tree from its leaf hashes and compares every perfect
 * subtree it completes with the stored `tree_nodes` row. Those rows are what inclusion and
 * consistency proofs, receipts and peers' syncs are served from (src/store/proofs.ts), so a
 * tampered or missing node would hand out wrong proofs even while the entries are intact.
 *
 * Nodes are compared a batch at a time, one prepared range query per level, so memory is bounded
 * by the batch size. Hashing is the native SHA-256 throughout: about one leaf and one node hash
 * per entry is most of a whole-log verification's hashing.
 *
 * A check can also cover one aligned chunk of the tree (a perfect subtree, which is independent of
 * the rest: verify-chunk.ts), or be fed the roots of such chunks instead of leaves, to complete the
 * levels above them (verify-parallel.ts).
 */
import type SQLite from 'better-sqlite3';
import { bytesEqual } from '../crypto/encoding.js';
import { sha256Native } from '../crypto/index.js';
import { EMPTY_ROOT } from '../log/merkle.js';
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

/** The RFC 9162 root over a compact range's subtree hashes (left to right), as `hashRange`, natively. */
export function rootOf(subtreeHashes: readonly Uint8Array[]): Uint8Array {
  let acc = subtreeHashes[subtreeHashes.length - 1];
  if (acc === undefined) return EMPTY_ROOT;
  for (let i = subtreeHashes.length - 2; i >= 0; i--) acc = nodeHashNative(subtreeHashes[i]!, acc);
  return acc;
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

export interface TreeCheckOptions {
  /** The level of the hashes appended: 0 for leaf hashes, k for the roots of 2^k-leaf chunks. */
  level?: number;
  /** The index, at that level, of the first hash appended. A chunk's index is aligned to its size. */
  begin?: number;
  /** The highest level to complete: a chunk's own root, whose parent lies outside it. */
  top?: number;
}

export class TreeCheck {
  /** Hashes of the perfect subtrees of what was appended (its compact range), left to right. */
  #edge: Uint8Array[] = [];
  #count = 0;
  readonly #level: number;
  readonly #begin: number;
  readonly #top: number;
  /** Indexed by level. */
  #runs: LevelRun[] = [];
  readonly #nodes: SQLite.Statement<[string, number, number, number], [number, Uint8Array]>;
  readonly #hashes: SQLite.Statement<[string, number, number, number], Uint8Array>;
  readonly #storedCount: SQLite.Statement<[string], number>;

  /** `sqlite` must be the connection of the read transaction the verification runs in. */
  constructor(
    sqlite: SQLite.Database,
    private readonly origin: string,
    private readonly report: OriginReport,
    options: TreeCheckOptions = {},
  ) {
    this.#level = options.level ?? 0;
    this.#begin = options.begin ?? 0;
    this.#top = options.top ?? Infinity;
    this.#nodes = sqlite
      .prepare<[string, number, number, number], [number, Uint8Array]>('SELECT idx, hash FROM tree_nodes WHERE origin = ? AND level = ? AND idx >= ? AND idx < ? ORDER BY idx')
      .raw();
    // The same rows, hashes only: no array and index per row, the common case.
    this.#hashes = sqlite
      .prepare<[string, number, number, number], Uint8Array>('SELECT hash FROM tree_nodes WHERE origin = ? AND level = ? AND idx >= ? AND idx < ? ORDER BY idx')
      .pluck();
    this.#storedCount = sqlite.prepare<[string], number>('SELECT count(*) FROM tree_nodes WHERE origin = ?').pluck();
  }

  /** The number of hashes appended: leaves, for a tree of leaves. */
  get size(): number {
    return this.#count;
  }

  root(): Uint8Array {
    return rootOf(this.#edge);
  }

  /** The compact range of what was appended (the array is a copy; hashes are never mutated). */
  subtreeHashes(): Uint8Array[] {
    return this.#edge.slice();
  }

  /** Appends a hash and records every subtree it completes, up to the top level, for comparison. */
  append(appended: Uint8Array): void {
    let hash = appended;
    let level = this.#level;
    let index = this.#begin + this.#count;
    this.#record(level, index, hash);
    // A right child (odd index) completes its parent with the left sibling on the right edge.
    while (index % 2 === 1 && level < this.#top) {
      hash = nodeHashNative(this.#edge.pop()!, hash);
      level++;
      index = (index - 1) / 2;
      this.#record(level, index, hash);
    }
    this.#edge.push(hash);
    this.#count++;
  }

  #record(level: number, index: number, hash: Uint8Array): void {
    const run = this.#runs[level];
    if (run === undefined) this.#runs[level] = { first: index, hashes: [hash] };
    else run.hashes.push(hash);
  }

  /** Compares the nodes completed since the last flush with the stored ones. */
  flush(): void {
    const runs = this.#runs;
    this.#runs = [];
    runs.forEach((run, level) => {
      const end = run.first + run.hashes.length;
      // Indices are unique (the primary key), so as many rows as nodes means one row per index, in order.
      const hashes = this.#hashes.all(this.origin, level, run.first, end);
      if (hashes.length === run.hashes.length) {
        let same = true;
        for (let k = 0; k < hashes.length && same; k++) same = bytesEqual(hashes[k]!, run.hashes[k]!);
        if (same) return;
      }
      const rows = this.#nodes.all(this.origin, level, run.first, end);
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

  /** After the last batch of a log of `leaves` entries: no stored node may lie outside the tree. */
  finish(leaves: number = this.size): void {
    this.flush();
    const stored = this.#storedCount.get(this.origin) ?? 0;
    const expected = storedNodeCount(leaves);
    if (stored > expected) {
      this.report.fail('tree_node_extra', `${stored - expected} stored tree nodes of ${this.origin} lie outside its tree of ${leaves} leaves`);
    }
  }

  private fail(kind: 'tree_node_missing' | 'tree_node_mismatch', level: number, index: number, what: string): void {
    // The leaf whose append completed the subtree: where the damage shows first in log order.
    const leaf = (index + 1) * 2 ** level - 1;
    const leaves = level === 0 ? `leaf ${leaf}` : `leaves ${index * 2 ** level}–${leaf}`;
    this.report.fail(kind, `tree node ${level}/${index} (${leaves}) of ${this.origin} ${what}`, { index: leaf });
  }
}
