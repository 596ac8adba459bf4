/**
 * The API-key lookup on PostgreSQL (token-index.ts, the port): key rows through the pool, and a
 * version that a dedicated LISTEN connection on channel `jointban_api_keys` (migration 0007's
 * trigger, sent at the commit of any key's creation, revocation or removal, by any process) moves
 * on, where SQLite has `PRAGMA data_version`. The API-key service (service/api-keys.ts) trusts its
 * cache only while the version holds still.
 *
 * The version is trusted only while the listener is known to be alive: connected, listening, and
 * answering a ping within the last `healthWindowMs`. Otherwise (at start, after a server restart, a
 * dead socket) it changes on every call, so every request reads its key row from the database,
 * until the listener has reconnected (with backoff) and listens again. A revocation reaches a
 * healthy listener a moment after its commit: a request in that moment may still pass (docs/SECURITY.md).
 * Every wait on the server has a deadline: the connect (`connectTimeoutMs`) and each statement
 * (`query_timeout`).
 */
import type { Kysely } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { ApiKeyRepository } from '../api-key-repository.js';
import type { ApiKeyTable, Database } from '../tables.js';
import type { ApiKeyLookup } from '../token-index.js';

const CHANNEL = 'jointban_api_keys';
const LISTEN_SQL = `LISTEN ${CHANNEL}`;
const PING_SQL = 'SELECT 1';

export interface ApiKeyListenerOptions {
  url: string;
  connectTimeoutMs: number;
  logger?: Logger | undefined;
  /** First wait before a reconnect; doubles up to `reconnectMaxMs`. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How often the listener is pinged; it is trusted for twice that plus the ping's deadline. */
  pingIntervalMs?: number;
  /** Deadline of the LISTEN and of each ping. */
  statementDeadlineMs?: number;
}

export class PostgresApiKeyLookup implements ApiKeyLookup {
  private version = 0;
  private client: pg.Client | undefined;
  /** `performance.now()` when the listener last proved alive; -Infinity while it is down. */
  private aliveAt = -Infinity;
  private closed = false;
  private wasLost = false;
  private delay: number;
  private reconnect: NodeJS.Timeout | undefined;
  private ping: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private readonly settings: Required<Omit<ApiKeyListenerOptions, 'logger'>> & { logger: Logger | undefined };
  private readonly repo: ApiKeyRepository;

  constructor(db: Kysely<Database>, options: ApiKeyListenerOptions) {
    this.repo = new ApiKeyRepository(db);
    this.settings = {
      reconnectMinMs: 250,
      reconnectMaxMs: 10_000,
      pingIntervalMs: 5_000,
      statementDeadlineMs: 3_000,
      ...options,
      logger: options.logger,
    };
    this.delay = this.settings.reconnectMinMs;
  }

  /** Whether the version can be trusted now: the listener listens and answered lately. */
  get listening(): boolean {
    const { pingIntervalMs, statementDeadlineMs } = this.settings;
    return this.client !== undefined && performance.now() - this.aliveAt <= 2 * pingIntervalMs + statementDeadlineMs;
  }

  dataVersion(): number {
    if (!this.listening) this.version += 1;
    return this.version;
  }

  apiKey(id: string): Promise<ApiKeyTable | undefined> {
    return this.repo.findForAuth(id);
  }

  /** Connects the listener in the background; until it listens, the version is not trusted. */
  start(): void {
    this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnect);
    clearInterval(this.ping);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    if (client) await endWithin(client, this.settings.statementDeadlineMs);
  }

  private connect(): void {
    if (this.closed) return;
    const { url, connectTimeoutMs, statementDeadlineMs } = this.settings;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, query_timeout: statementDeadlineMs, keepAlive: true, application_name: 'jointban-listen' });
    let gone = false;
    const lost = (err?: unknown) => {
      if (gone) return;
      gone = true;
      this.lost(client, err);
    };
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || client !== this.client) return;
      this.version += 1;
      this.aliveAt = performance.now();
    });
    client.on('error', lost);
    client.on('end', () => lost());
    this.connecting = (async () => {
      try {
        await client.connect();
        await client.query(LISTEN_SQL);
      } catch (err) {
        lost(err);
        return;
      }
      if (this.closed || gone) {
        if (!gone) await endWithin(client, statementDeadlineMs);
        return;
      }
      // Changes made while nobody listened were not heard: the cache starts afresh.
      this.version += 1;
      this.client = client;
      this.aliveAt = performance.now();
      this.delay = this.settings.reconnectMinMs;
      this.ping = setInterval(() => this.pingOnce(client), this.settings.pingIntervalMs);
      this.ping.unref();
      if (this.wasLost) this.settings.logger?.info('API-key change listener listening again: keys are cached again');
      this.wasLost = false;
    })();
  }

  private pingOnce(client: pg.Client): void {
    client.query(PING_SQL).then(
      () => {
        if (client === this.client) this.aliveAt = performance.now();
      },
      // A ping past its deadline leaves the connection in an unknown state: start afresh.
      (err: unknown) => {
        client.emit('error', err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private lost(client: pg.Client, err?: unknown): void {
    if (this.client === client) {
      this.client = undefined;
      this.aliveAt = -Infinity;
      this.version += 1;
      clearInterval(this.ping);
    }
    void endWithin(client, this.settings.statementDeadlineMs);
    if (this.closed) return;
    if (!this.wasLost) {
      this.settings.logger?.warn({ err: err instanceof Error ? err.message : undefined }, 'API-key change listener lost: every request reads its key from the database until it reconnects');
    }
    this.wasLost = true;
    clearTimeout(this.reconnect);
    this.reconnect = setTimeout(() => this.connect(), this.delay);
    this.reconnect.unref();
    this.delay = Math.min(this.delay * 2, this.settings.reconnectMaxMs);
  }
}

/** Ends a client, or gives up on a graceful end after `ms` (a dead socket never answers). */
async function endWithin(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.end().catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()))]);
  clearTimeout(timer);
}
