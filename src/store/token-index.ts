/**
 * The check hot path's ports: the token index, which answers "no listing carries this token" from
 * memory and confirms the rest against the database, and the API-key lookup with its invalidation
 * signal. One adapter per engine, chosen here by `openCheckStore`; the node and the check service
 * never ask which engine they run on.
 * - SQLite (sqlite/token-index.ts): one class for both ports, prepared statements, `rowid` as the
 *   watermark and `PRAGMA data_version` as the change signal; one statement reads both, so the
 *   API-key check of a request also catches the token filter up.
 * - PostgreSQL (postgres/token-index.ts, postgres/api-key-lookup.ts): `listing_tokens.seq`
 *   (migration 0007) as the watermark, one catch-up query per check, and a LISTEN connection on
 *   `jointban_api_keys` as the change signal.
 *
 * Both token indexes share the filter's bookkeeping, warm-up and snapshot writes
 * (token-filter-index.ts) and the snapshot's fit check (token-snapshot.ts).
 *
 * What every adapter keeps true: a check sees every listing committed before its request arrived,
 * whoever wrote it (this node, the sync, an import, another process); the filter only says
 * "certainly not listed", and every possible match is confirmed with the conditions of
 * `ListingReader.matchTokens` (active, unexpired); until `warmUp()` has read every token, `match`
 * answers undefined and the caller asks Kysely instead (/readyz reports not ready meanwhile).
 */
import type { Logger } from 'pino';
import type { DatabaseHandle } from './database.js';
import type { TokenMatchRow, TokenQuery } from './listing-repository.js';
import { PostgresApiKeyLookup } from './postgres/api-key-lookup.js';
import { PostgresTokenIndex } from './postgres/token-index.js';
import { SqliteTokenIndex } from './sqlite/token-index.js';
import type { ApiKeyTable } from './tables.js';
import type { TokenSnapshotOptions } from './token-filter-index.js';

export interface TokenIndexStats {
  tokens: number;
  /** Bytes of the filter's table. */
  bytes: number;
  /** Where the last warm-up read the tokens from. */
  source: 'snapshot' | 'sqlite' | 'postgres' | undefined;
}

export interface TokenIndex {
  /** Whether the token filter is complete and checks use it. */
  readonly warm: boolean;
  readonly stats: TokenIndexStats;
  /**
   * Fills the filter from the snapshot file when it fits the database, else from the database a
   * slice at a time (then writes a snapshot). Resolves false when closed meanwhile.
   */
  warmUp(): Promise<boolean>;
  /**
   * Active, unexpired listings carrying one of the tokens, as `ListingReader.matchTokens` returns
   * them; undefined when the caller must ask Kysely instead. `receivedAt` is `performance.now()`
   * when the request arrived: the answer holds every listing committed before then. SQLite answers
   * synchronously; PostgreSQL with a promise.
   */
  match(queries: readonly TokenQuery[], now: string, receivedAt?: number): TokenMatchRow[] | undefined | Promise<TokenMatchRow[] | undefined>;
  /**
   * Writes the snapshot if the filter has read rows since the file was last written; resolves when
   * this and any earlier write are done. Errors go to `onSnapshotError`.
   */
  saveSnapshot(): Promise<void>;
  /** Stops a warm-up in progress and drops the filter; call before the database closes (after saveSnapshot). */
  close(): void;
}

/**
 * The key rows for the per-request API-key check (service/api-keys.ts), and a version that changes
 * whenever a key may have changed, so the service's cache is trusted only while it holds still.
 */
export interface ApiKeyLookup {
  /** The key row; SQLite answers synchronously, PostgreSQL with a promise. */
  apiKey(id: string): ApiKeyTable | undefined | Promise<ApiKeyTable | undefined>;
  /** Changes when a key may have changed (on every call while the engine cannot tell). */
  dataVersion(): number;
}

/** Both ports of one database, as the node holds them. */
export interface CheckStore {
  readonly tokens: TokenIndex;
  readonly apiKeys: ApiKeyLookup;
  /** Closes the token index and the lookup's own connections (PostgreSQL's LISTEN). */
  close(): Promise<void>;
}

export interface CheckStoreOptions extends TokenSnapshotOptions {
  /** Where a lost or regained LISTEN connection, or a warm-up waiting for the server, is reported (PostgreSQL). */
  logger?: Logger | undefined;
}

/** The check store of the database's engine. */
export function openCheckStore(database: Pick<DatabaseHandle, 'db' | 'engine'>, options: CheckStoreOptions = {}): CheckStore {
  const { engine } = database;
  if (engine.name === 'sqlite') {
    const index = new SqliteTokenIndex(engine.sqlite, options);
    return {
      tokens: index,
      apiKeys: index,
      close: async () => index.close(),
    };
  }
  const tokens = new PostgresTokenIndex(database.db, engine.pool, options);
  const apiKeys = new PostgresApiKeyLookup(database.db, { url: engine.options.url, connectTimeoutMs: engine.options.connectTimeoutMs, logger: options.logger });
  apiKeys.start();
  return {
    tokens,
    apiKeys,
    close: async () => {
      tokens.close();
      await apiKeys.close();
    },
  };
}
