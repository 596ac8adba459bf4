/**
 * Table types for Kysely: one interface per table, in one place. Blobs are Uint8Array; times are
 * ISO-8601 UTC strings (`Date.toISOString()`), which sort correctly as text on every dialect.
 */
import type { Generated } from 'kysely';

/** Every entry of every log this node holds, as the exact canonical bytes that were signed. */
export interface LogEntryTable {
  origin: string;
  seq: number;
  kind: 'listing' | 'retraction';
  time: string;
  bytes: Uint8Array;
  leaf_hash: Uint8Array;
}

/** Hashes of complete Merkle subtrees (RFC 9162), addressed by level and index, per origin. */
export interface TreeNodeTable {
  origin: string;
  level: number;
  idx: number;
  hash: Uint8Array;
}

/** Signed checkpoints: this node's own, and those it accepted from peers. */
export interface CheckpointTable {
  origin: string;
  size: number;
  root: Uint8Array;
  note: string;
  recorded_at: string;
}

/**
 * The listings projection: derived from log entries so checks need not replay the log. It is the
 * one place where state changes (a retraction marks the listing), always in the transaction that
 * appends the retraction entry.
 */
export interface ListingTable {
  id: string;
  origin: string;
  seq: number;
  category: string;
  severity: string;
  listed_at: string;
  banned_at: string;
  ban_until: string | null;
  expires_at: string;
  evidence_digest: string | null;
  status: 'active' | 'retracted';
  retracted_at: string | null;
  retraction_reason: string | null;
  retraction_seq: number | null;
  /** The platform's own account id: local to the origin node, never part of a shared entry. */
  reference: string | null;
}

export interface ListingTokenTable {
  token: Uint8Array;
  type: string;
  epoch: number;
  listing_id: string;
}

export interface ApiKeyTable {
  id: string;
  name: string;
  scope: 'check' | 'write' | 'admin' | 'auditor';
  key_hash: Uint8Array;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface NodeMetaTable {
  key: string;
  value: string;
}

export interface RosterTable {
  version: number;
  note: string;
  accepted_at: string;
}

/**
 * Misbehaviour detected in peer data, with the evidence an auditor needs: the signed checkpoints,
 * proofs or entry bytes involved, as JSON. The id is a digest of kind, origin and evidence, so the
 * same fault seen again is recorded once.
 */
export interface MisbehaviourTable {
  id: string;
  kind: string;
  origin: string;
  peer: string | null;
  detected_at: string;
  message: string;
  evidence: string;
}

/**
 * Checks this node served, per UTC day (`YYYY-MM-DD`), purpose and API key id ('' for checks made
 * without a key). Counted in memory and added here by the periodic flush (service/check-counter.ts).
 */
export interface CheckCountTable {
  day: string;
  purpose: string;
  key_id: string;
  served: number;
  /** Identifiers tested (migration 0006; rows from before it hold their request count). */
  identifiers: number;
  hits: number;
}

/** A watched account: the platform's own reference; its identifiers are kept only as tokens. */
export interface WatchReferenceTable {
  reference: string;
  updated_at: string;
}

/** The tokens of a watched reference, under every configured epoch; keyed by token for matching. */
export interface WatchTokenTable {
  token: Uint8Array;
  type: string;
  epoch: number;
  reference: string;
}

/**
 * Events about watched references (docs/EVENTS.md), recorded in the transaction that changed the
 * listings projection, with their webhook delivery state. `matches` is the JSON snapshot of the
 * reference's active matches at `time`, from which the decision is evaluated.
 */
export interface WatchEventTable {
  id: Generated<number>;
  kind: 'match' | 'lift';
  reference: string;
  listing_id: string;
  origin: string;
  category: string;
  /** JSON array of the identifier types through which the listing matched the reference. */
  identifier_types: string;
  matches: string;
  time: string;
  state: 'pending' | 'delivered' | 'dead';
  attempts: number;
  next_attempt_at: string;
  delivered_at: string | null;
  last_error: string | null;
  /** Why a lift was recorded (see LiftReason); null for a match, and for lifts of before migration 0005 (retractions). */
  reason: string | null;
}

export interface Database {
  rosters: RosterTable;
  misbehaviour: MisbehaviourTable;
  log_entries: LogEntryTable;
  tree_nodes: TreeNodeTable;
  checkpoints: CheckpointTable;
  listings: ListingTable;
  listing_tokens: ListingTokenTable;
  api_keys: ApiKeyTable;
  node_meta: NodeMetaTable;
  check_counts: CheckCountTable;
  watch_references: WatchReferenceTable;
  watch_tokens: WatchTokenTable;
  watch_events: WatchEventTable;
}

// Re-exported so repositories need not import kysely's helpers separately.
export type { Generated };
