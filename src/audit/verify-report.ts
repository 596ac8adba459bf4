/**
 * What `jointban verify` reports for each log a node holds: how much was verified and every fault
 * found, each with a kind from a closed set, the leaf index or checkpoint size it concerns, and a
 * message for the operator. One tampered byte early in a large log makes every later checkpoint
 * root differ, so only the first failures are kept (all are counted): the first one is the cause.
 */

export type VerifyFailureKind =
  /** Entry bytes that do not decode as a canonical v1 entry, a wrong seq, or a bad retraction target. */
  | 'bad_entry'
  /** An entry whose `origin` is not the log's. */
  | 'foreign_origin'
  /** The log's origin is not in the roster, so nothing of it can be checked against a key. */
  | 'unknown_member'
  /** An entry dated at or after its origin's suspension. */
  | 'suspended_member'
  /** A seq missing from the stored log (entries after it cannot be verified). */
  | 'missing_entry'
  /** The stored `kind` or `time` column differs from the entry bytes. */
  | 'entry_row_mismatch'
  /** The stored `leaf_hash` is not SHA-256(0x00 ‖ bytes). */
  | 'leaf_hash_mismatch'
  /** A stored Merkle node (a proof source) differs from the one recomputed from the entries. */
  | 'tree_node_mismatch'
  | 'tree_node_missing'
  /** More stored Merkle nodes than a tree of the log's size has. */
  | 'tree_node_extra'
  /** A stored checkpoint note that does not verify with the origin's key. */
  | 'bad_signature'
  /** The stored size or root columns differ from the signed note. */
  | 'checkpoint_mismatch'
  /** The signed root differs from the root recomputed from the entries. */
  | 'root_mismatch'
  /** A checkpoint for more entries than the node holds. */
  | 'checkpoint_beyond_log'
  /** A witness cosignature line that does not verify. */
  | 'bad_cosignature'
  /** A checkpoint without a witness cosignature, when cosignatures are required. */
  | 'missing_cosignature'
  /** The listings projection or its token index disagrees with the log. */
  | 'projection_mismatch';

export interface VerifyFailure {
  kind: VerifyFailureKind;
  /** 0-based leaf index of the entry concerned (seq − 1). */
  index?: number;
  /** Size of the checkpoint concerned. */
  size?: number;
  message: string;
}

export interface OriginVerification {
  /** Member id of the log. */
  origin: string;
  /** Entries verified (all the node holds, unless a missing entry stopped the walk). */
  entries: number;
  checkpoints: number;
  /** Checkpoints carrying a valid witness cosignature. */
  cosignedCheckpoints: number;
  ok: boolean;
  /** The first failures found, in log order. */
  failures: VerifyFailure[];
  /** All failures found, including those not listed. */
  failureCount: number;
  /** Things worth knowing that are not failures (e.g. checkpoints without a cosignature). */
  warnings: string[];
}

export const MAX_REPORTED_FAILURES = 100;

/** Collects the findings for one origin while it is walked. */
export class OriginReport {
  entries = 0;
  checkpoints = 0;
  cosignedCheckpoints = 0;
  readonly #failures: VerifyFailure[] = [];
  #failureCount = 0;
  readonly #warnings: string[] = [];

  constructor(readonly origin: string) {}

  fail(kind: VerifyFailureKind, message: string, at: { index?: number; size?: number } = {}): void {
    this.#failureCount++;
    if (this.#failures.length < MAX_REPORTED_FAILURES) this.#failures.push({ kind, ...at, message });
  }

  /** Whether anything failed so far. */
  get failed(): boolean {
    return this.#failureCount > 0;
  }

  warn(message: string): void {
    this.#warnings.push(message);
  }

  result(): OriginVerification {
    return {
      origin: this.origin,
      entries: this.entries,
      checkpoints: this.checkpoints,
      cosignedCheckpoints: this.cosignedCheckpoints,
      ok: this.#failureCount === 0,
      failures: [...this.#failures],
      failureCount: this.#failureCount,
      warnings: [...this.#warnings],
    };
  }
}
