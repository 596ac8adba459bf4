/**
 * The node's connection to PostgreSQL (the `postgres` driver, docs/CONFIGURATION.md): one pool,
 * and a Kysely driver over it that this folder owns, so that
 * - every write transaction takes the node's writer lock before it reads what it will write, as
 *   `BEGIN IMMEDIATE` does on SQLite (sqlite/dialect.ts): the log's appends read its size first,
 *   and commit order is then the order of the identity values they draw, so a reader that follows
 *   `listing_tokens.seq` as a watermark never skips a row committed late (token-index.ts);
 * - the engine's own fast paths (COPY, LISTEN) reach the client that runs a transaction
 *   (`clientOf`);
 * - a lost server, a refused connection, a statement or lock timeout surface as 503 `unavailable`
 *   with a message that names what failed, never a 500 with a stack (`classifyPostgresError`).
 */
import { CompiledQuery, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type DatabaseConnection, type Dialect, type Driver, type QueryResult, type TransactionSettings } from 'kysely';
import pg from 'pg';
import { AppError } from '../../errors.js';
import { typeParsers } from './types.js';
import { describeUrl } from './url.js';

export interface PostgresOptions {
  url: string;
  poolSize: number;
  statementTimeoutMs?: number | undefined;
  connectTimeoutMs: number;
  /** A read-only handle (`jointban verify`): transactions take no writer lock and write nothing. */
  readonly?: boolean;
}

export type PostgresPool = pg.Pool;
export type PostgresClient = pg.PoolClient;

/**
 * The writer lock's key (pg_advisory_xact_lock): one per database, held to the end of each write
 * transaction. 0x6a6f696e = "join".
 */
export const WRITER_LOCK_KEY = 0x6a6f696e;
/** How long a writer waits for the lock before its request fails with 503 (SQLite's busy timeout). */
const WRITER_LOCK_TIMEOUT_MS = 5_000;

export function openPostgresPool(options: PostgresOptions, onIdleError: (err: Error) => void): PostgresPool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'jointban',
    types: typeParsers,
    ...(options.statementTimeoutMs !== undefined ? { statement_timeout: options.statementTimeoutMs } : {}),
  });
  // A server restart ends idle connections with an error event; unhandled, it would end the
  // process. The pool drops such a client and opens a new one on the next request.
  pool.on('error', onIdleError);
  return pool;
}

/** SQLSTATE classes and codes that mean "the database cannot answer now", not "the request is wrong". */
function unavailableReason(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code === '57014') return 'a statement ran past database.statementTimeoutMs';
    if (code === '55P03') return 'the writer lock was not free in time';
    if (code === '53300') return 'the server has no free connection';
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return `the server is not available (${err.message})`;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENOENT')
      return `the server cannot be reached (${code})`;
  }
  if (/Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|not queryable/i.test(err.message))
    return `the server is not available (${err.message})`;
  return undefined;
}

/** The error a failed statement becomes: 503 `unavailable` for a lost or busy server, else the error itself. */
export function classifyPostgresError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const reason = unavailableReason(err);
  return reason === undefined ? err : new AppError('unavailable', `database unavailable: ${reason}`);
}

/**
 * One line for a server that refused the node at start (`jointban start`, `migrate`, `init`): what
 * failed, where, as whom; never the password.
 */
export function describeConnectError(err: unknown, url: string): AppError {
  const where = describeUrl(url);
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const reason =
    code === '3D000'
      ? 'the database does not exist (create it first: createdb, or CREATE DATABASE)'
      : code === '28P01' || code === '28000'
        ? 'the server refused the role or its password'
        : code === '42501'
          ? `the role lacks a right the node needs (${message}): it needs CREATE on the database's schema and rights on its tables`
          : (unavailableReason(err) ?? message);
  return new AppError('unavailable', `cannot use PostgreSQL at ${where}: ${reason}`);
}

/** How long a readiness probe waits for the server before it says the database is unreachable. */
const PROBE_DEADLINE_MS = 2_000;
/** A probe's answer is reused this long: /readyz is unauthenticated, and may be asked often. */
const PROBE_REUSE_MS = 1_000;

/**
 * Whether the server answers a trivial statement within PROBE_DEADLINE_MS (for /readyz). One
 * probe at a time, its answer reused for PROBE_REUSE_MS, so that however often /readyz is asked it
 * holds at most one of the pool's connections, briefly.
 */
export function poolProbe(pool: PostgresPool, now: () => number = Date.now): () => Promise<boolean> {
  let pending: Promise<boolean> | undefined;
  let last: { at: number; ok: boolean } | undefined;
  return () => {
    if (last !== undefined && now() - last.at < PROBE_REUSE_MS) return Promise.resolve(last.ok);
    pending ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PROBE_DEADLINE_MS)));
      const answered = pool.query('select 1').then(
        () => true,
        () => false,
      );
      const ok = await Promise.race([answered, late]).finally(() => clearTimeout(timer));
      last = { at: now(), ok };
      pending = undefined;
      return ok;
    })();
    return pending;
  };
}

/** A connection of the node's driver: Kysely's statements, and the client for the engine's own paths. */
export class PostgresConnection implements DatabaseConnection {
  /** Set when a statement failed for want of the server: the client is then destroyed, not reused. */
  broken = false;

  constructor(readonly client: PostgresClient) {
    // A client whose socket ends while a request holds it (a server restart, a COPY past its
    // deadline) emits 'error' after failing its statements; the pool listens only to idle clients,
    // and an 'error' without a listener would end the process.
    client.on('error', () => {
      this.broken = true;
    });
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    try {
      const result = await this.client.query<R & pg.QueryResultRow>(compiled.sql, [...compiled.parameters]);
      const counts = result.command === 'INSERT' || result.command === 'UPDATE' || result.command === 'DELETE' || result.command === 'MERGE';
      return { rows: result.rows ?? [], ...(counts ? { numAffectedRows: BigInt(result.rowCount ?? 0) } : {}) };
    } catch (err) {
      const classified = classifyPostgresError(err);
      if (classified !== err) this.broken = true;
      throw classified;
    }
  }

  // biome-ignore lint/correctness/useYield: the node never streams through Kysely on PostgreSQL (the token index and verify read by keyset pages).
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming through Kysely is not supported on PostgreSQL here');
  }
}

class PostgresWriterDriver implements Driver {
  private readonly connections = new WeakMap<PostgresClient, PostgresConnection>();
  private destroyed = false;

  constructor(
    private readonly pool: PostgresPool,
    private readonly readonly: boolean,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    let client: PostgresClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw classifyPostgresError(err);
    }
    if (this.destroyed) {
      client.release();
      throw new Error('the database is closed');
    }
    let connection = this.connections.get(client);
    if (!connection) {
      connection = new PostgresConnection(client);
      this.connections.set(client, connection);
    }
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const mode = [settings.isolationLevel ? `isolation level ${settings.isolationLevel}` : '', this.readonly ? 'read only' : (settings.accessMode ?? '')].filter(Boolean).join(' ');
    await connection.executeQuery(CompiledQuery.raw(mode ? `start transaction ${mode}` : 'begin'));
    if (this.readonly || settings.accessMode === 'read only') return;
    await connection.executeQuery(CompiledQuery.raw(`set local lock_timeout = ${WRITER_LOCK_TIMEOUT_MS}`));
    await connection.executeQuery(CompiledQuery.raw(`select pg_advisory_xact_lock(${WRITER_LOCK_KEY})`));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // A broken connection has nothing to roll back on this side (the server ends the transaction
    // of a lost session), and its error would replace the one that failed the transaction.
    if ((connection as PostgresConnection).broken) return;
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const pgConnection = connection as PostgresConnection;
    // A client whose connection broke is destroyed, not handed to the next request.
    pgConnection.client.release(pgConnection.broken ? true : undefined);
    pgConnection.broken = false;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.pool.end();
  }
}

/** Kysely's PostgreSQL dialect with the node's driver (above). */
export function postgresDialect(pool: PostgresPool, readonly: boolean): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PostgresWriterDriver(pool, readonly),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}

/** The pg client a Kysely connection of this dialect runs on (for COPY inside a transaction). */
export function clientOf(connection: DatabaseConnection): PostgresClient {
  if (!(connection instanceof PostgresConnection)) throw new Error('not a connection of the PostgreSQL driver');
  return connection.client;
}
