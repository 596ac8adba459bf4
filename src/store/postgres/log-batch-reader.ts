/**
 * The log batch reader (src/store/log-batch-reader.ts) on PostgreSQL: one named prepared statement
 * per read, rows as arrays (`rowMode: 'array'`), each answered with a promise. Every read is one
 * range of one origin (a batch of entries, a level's run of nodes), so memory is bounded by the
 * batch whatever the store's size.
 *
 * The aggregate forms are the SQLite adapter's, in PostgreSQL's words: string_agg over a subquery
 * in index order (one ordered scan instead of a sort per aggregate), JSON texts written piece by
 * piece with to_json, whose output has no spaces (json_build_array's has). Columns are typed here,
 * so "well-formed" is "not null". Within a listing, token rows are in the order they were inserted
 * (`listing_tokens.seq`, migration 0007), the entry's order.
 *
 * This module loads pg alone, not Kysely: a verify worker (src/audit/verify-worker.ts) opens its
 * reader here (`openPostgresLogBatchReader`). The node's own handle reads through the client of
 * its Kysely transaction (log-snapshots.ts).
 */
import pg from 'pg';
import type { EntryBatch, EntryRow, ListingRow, ListingRowsText, ListingTokenRow, LogBatchReader, LogReaderTarget, OwnLogBatchReader, TreeNodeRow, TreeNodeRun } from '../log-batch-reader.js';
import { typeParsers } from './types.js';

const ENTRY_COLUMNS = 'seq, kind, time, bytes, leaf_hash';
const ENTRY_RANGE = 'FROM log_entries WHERE origin = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq';

export const ENTRY_ROWS_SQL = `SELECT ${ENTRY_COLUMNS} ${ENTRY_RANGE}`;

/** As on SQLite: as many well-formed rows as seqs within the range are one row per seq (the primary key). */
export const ENTRY_BATCH_SQL = `SELECT count(*),
   count(*) FILTER (WHERE bytes IS NOT NULL AND leaf_hash IS NOT NULL AND kind IS NOT NULL AND time IS NOT NULL),
   string_agg(seq::text, ','),
   string_agg(decode('00', 'hex') || bytes, ''::bytea),
   string_agg(octet_length(bytes)::text, ','),
   string_agg(leaf_hash, ''::bytea),
   string_agg(kind || ' ' || time, ',')
 FROM (SELECT ${ENTRY_COLUMNS} ${ENTRY_RANGE}) AS e`;

const NODE_RANGE = 'FROM tree_nodes WHERE origin = $1 AND level = $2 AND idx >= $3 AND idx < $4 ORDER BY idx';

export const TREE_NODES_SQL = `SELECT idx, hash ${NODE_RANGE}`;

export const TREE_NODE_RUN_SQL = `SELECT count(*), count(*) FILTER (WHERE octet_length(hash) = 32), string_agg(idx::text, ','), string_agg(hash, ''::bytea)
 FROM (SELECT idx, hash ${NODE_RANGE}) AS n`;

export const TREE_NODE_COUNT_SQL = 'SELECT count(*) FROM tree_nodes WHERE origin = $1';

const LISTING_COLUMNS = 'id, seq, category, severity, listed_at, banned_at, ban_until, expires_at, evidence_digest, status, retracted_at, retraction_reason, retraction_seq';
const LISTING_RANGE = 'FROM listings WHERE origin = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq';

export const LISTING_ROWS_SQL = `SELECT ${LISTING_COLUMNS} ${LISTING_RANGE}`;

const TOKEN_RANGE = `FROM listings AS l INNER JOIN listing_tokens AS t ON t.listing_id = l.id
 WHERE l.origin = $1 AND l.seq >= $2 AND l.seq <= $3 ORDER BY l.seq, t.seq`;

export const LISTING_TOKENS_SQL = `SELECT l.seq, t.type, t.epoch, t.token ${TOKEN_RANGE}`;

/** A text column as JSON: a JSON string, or null. */
const json = (column: string): string => `coalesce(to_json(${column})::text, 'null')`;

export const LISTING_ROWS_TEXT_SQL = `SELECT count(*),
   string_agg('[' || ${json('id')} || ',' || seq::text || ',' || ${json('category')} || ',' || ${json('severity')} || ',' || ${json('listed_at')} || ',' || ${json('banned_at')}
     || ',' || ${json('ban_until')} || ',' || ${json('expires_at')} || ',' || ${json('evidence_digest')} || ']', ','),
   coalesce(json_agg(json_build_array(seq, status, retracted_at, retraction_reason, retraction_seq))
     FILTER (WHERE status IS DISTINCT FROM 'active' OR retracted_at IS NOT NULL OR retraction_reason IS NOT NULL OR retraction_seq IS NOT NULL), '[]')::text
 FROM (SELECT ${LISTING_COLUMNS} ${LISTING_RANGE}) AS l`;

export const LISTING_TOKENS_TEXT_SQL = `SELECT string_agg('[' || seq::text || ',' || ${json('type')} || ',' || epoch::text || ',"' || encode(token, 'hex') || '"]', ',')
 FROM (SELECT l.seq, t.type, t.epoch, t.token ${TOKEN_RANGE}) AS x`;

export const LOG_SIZE_SQL = 'SELECT coalesce(max(seq), 0) FROM log_entries WHERE origin = $1';

export const CHECKPOINT_SIZES_SQL = 'SELECT size FROM checkpoints WHERE origin = $1 AND size > $2 AND size <= $3 ORDER BY size';

/** What the reader needs of a client: a pool's client or one of its own. */
export type ReaderClient = Pick<pg.ClientBase, 'query'>;

/**
 * The reads on one client, which must be inside the read transaction they are meant to see.
 * `classify` turns a driver error into the one the caller reports (the node's handle: 503 for a
 * lost server, connection.ts).
 */
export class PostgresLogBatchReader implements LogBatchReader {
  constructor(
    private readonly client: ReaderClient,
    private readonly classify: (err: unknown) => unknown = (err) => err,
  ) {}

  async #rows<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
    try {
      // Named: parsed and planned once per connection, as SQLite's prepared statements are.
      const result = await this.client.query<R & unknown[]>({ name: `jointban_verify_${name}`, text, values, rowMode: 'array' });
      return result.rows;
    } catch (err) {
      throw this.classify(err);
    }
  }

  /** The one row of an aggregate without GROUP BY (there is one even over no rows). */
  async #one<R>(name: string, text: string, values: unknown[]): Promise<R> {
    return (await this.#rows<R>(name, text, values))[0]!;
  }

  entryRows(origin: string, first: number, last: number): Promise<EntryRow[]> {
    return this.#rows('entry_rows', ENTRY_ROWS_SQL, [origin, first, last]);
  }

  entryBatch(origin: string, first: number, last: number): Promise<EntryBatch> {
    return this.#one('entry_batch', ENTRY_BATCH_SQL, [origin, first, last]);
  }

  treeNodes(origin: string, level: number, from: number, to: number): Promise<TreeNodeRow[]> {
    return this.#rows('tree_nodes', TREE_NODES_SQL, [origin, level, from, to]);
  }

  treeNodeRun(origin: string, level: number, from: number, to: number): Promise<TreeNodeRun> {
    return this.#one('tree_node_run', TREE_NODE_RUN_SQL, [origin, level, from, to]);
  }

  async treeNodeCount(origin: string): Promise<number> {
    return (await this.#one<[number]>('tree_node_count', TREE_NODE_COUNT_SQL, [origin]))[0];
  }

  listingRows(origin: string, first: number, last: number): Promise<ListingRow[]> {
    return this.#rows('listing_rows', LISTING_ROWS_SQL, [origin, first, last]);
  }

  listingTokens(origin: string, first: number, last: number): Promise<ListingTokenRow[]> {
    return this.#rows('listing_tokens', LISTING_TOKENS_SQL, [origin, first, last]);
  }

  listingRowsText(origin: string, first: number, last: number): Promise<ListingRowsText> {
    return this.#one('listing_rows_text', LISTING_ROWS_TEXT_SQL, [origin, first, last]);
  }

  async listingTokensText(origin: string, first: number, last: number): Promise<string | null> {
    return (await this.#one<[string | null]>('listing_tokens_text', LISTING_TOKENS_TEXT_SQL, [origin, first, last]))[0];
  }

  async logSize(origin: string): Promise<number> {
    return (await this.#one<[number]>('log_size', LOG_SIZE_SQL, [origin]))[0];
  }

  async checkpointSizes(origin: string, after: number, upTo: number): Promise<number[]> {
    return (await this.#rows<[number]>('checkpoint_sizes', CHECKPOINT_SIZES_SQL, [origin, after, upTo])).map((r) => r[0]);
  }
}

/** What `pg_export_snapshot()` answers: hex groups and dashes, checked before it is written into `SET TRANSACTION SNAPSHOT`. */
const SNAPSHOT_ID = /^[0-9A-F]+(-[0-9A-F]+)+$/i;

/** Opens the read transaction every read of a verification runs in: repeatable read, read only (no writer lock: connection.ts). */
export const BEGIN_READ_SNAPSHOT = 'START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY';

/** The coordinator's snapshot, for workers to import while its transaction is open. */
export async function exportSnapshot(client: ReaderClient): Promise<string> {
  const result = await client.query<[string]>({ text: 'SELECT pg_export_snapshot()', rowMode: 'array' });
  return result.rows[0]![0];
}

/**
 * A worker's reader: a client of its own (not a pool), in a read-only repeatable-read transaction
 * that imports the coordinator's snapshot, so it reads exactly the coordinator's store.
 */
export async function openPostgresLogBatchReader(target: Extract<LogReaderTarget, { engine: 'postgres' }>): Promise<OwnLogBatchReader> {
  if (!SNAPSHOT_ID.test(target.snapshot)) throw new Error('not a PostgreSQL snapshot id');
  const client = new pg.Client({
    connectionString: target.url,
    connectionTimeoutMillis: target.connectTimeoutMs,
    application_name: 'jointban verify',
    types: typeParsers,
    ...(target.statementTimeoutMs !== undefined ? { statement_timeout: target.statementTimeoutMs } : {}),
  });
  // A connection lost while idle: the next read fails and its chunk goes back to the coordinator.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(BEGIN_READ_SNAPSHOT);
    await client.query(`SET TRANSACTION SNAPSHOT '${target.snapshot}'`);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return new OwnPostgresLogBatchReader(client);
}

class OwnPostgresLogBatchReader extends PostgresLogBatchReader implements OwnLogBatchReader {
  constructor(private readonly own: pg.Client) {
    super(own);
  }

  async close(): Promise<void> {
    await this.own.end();
  }
}
