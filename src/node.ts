/**
 * The composition root: builds every part of a node from its configuration, and starts and stops
 * it. Everything is handed its dependencies here, so tests can pass a temp data dir, a fixed clock
 * or a captured log stream.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './api/app.js';
import { auditRoutes } from './api/audit-routes.js';
import { AuditService } from './audit/audit-service.js';
import { dashboardRoutes } from './audit/dashboard/routes.js';
import { statusRoutes } from './api/status-routes.js';
import { Federation } from './federation/federation.js';
import { readImportStatus } from './service/import-status.js';
import { NodeMetaRepository } from './store/node-meta-repository.js';
import { createMetrics } from './metrics.js';
import { entryAllowed } from './roster/index.js';
import type { NodeConfig } from './config/load.js';
import type { Ed25519KeyPair } from './crypto/index.js';
import { createHmacTokenDeriver } from './identifiers/tokens.js';
import { createLogger } from './logging.js';
import { ApiKeyService } from './service/api-keys.js';
import { CheckCounter } from './service/check-counter.js';
import { CheckService } from './service/checks.js';
import { Tokenizer } from './service/identifiers.js';
import { ListingService } from './service/listings.js';
import { RateLimiter } from './service/rate-limiter.js';
import { ApiKeyRepository } from './store/api-key-repository.js';
import { CheckCountRepository } from './store/check-count-repository.js';
import { openDatabase, type DatabaseHandle } from './store/database.js';
import { readKeyFile } from './store/key-file.js';
import { assertNoPendingRestore } from './store/restore.js';
import { VERSION } from './version.js';

export interface NodeDeps {
  logger?: Logger;
  now?: () => Date;
}

export interface JointbanNode {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly database: DatabaseHandle;
  readonly identity: Ed25519KeyPair;
  readonly keys: ApiKeyService;
  readonly listings: ListingService;
  readonly checks: CheckService;
  readonly audit: AuditService;
  /** Counts the checks served in memory; written every few seconds, before each report and on stop. */
  readonly checkCounter: CheckCounter;
  readonly federation: Federation;
  readonly app: ReturnType<typeof createApp>;
  /** Listens on the configured host and port (0 = any free port); returns the URL. */
  listen(): Promise<string>;
  readonly url: string | undefined;
  /** Stops accepting requests, lets in-flight ones finish, stops the federation part (signing what they appended), then closes the database. */
  stop(): Promise<void>;
}

export async function createNode(config: NodeConfig, deps: NodeDeps = {}): Promise<JointbanNode> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const now = deps.now ?? (() => new Date());
  // Before the database is opened: a restore that has not verified leaves data no node may serve.
  assertNoPendingRestore(config.dataDir);
  const identity = readKeyFile(config.signingKeyFile);
  const database = await openDatabase({ driver: 'sqlite', file: config.databaseFile });
  const { db } = database;

  const tokenizer = new Tokenizer(createHmacTokenDeriver(config.epochs), config.defaultRegion);
  const keys = new ApiKeyService(new ApiKeyRepository(db), now);
  const federation = new Federation({ config, db, secretKey: identity.secretKey, logger, now });
  const listings = new ListingService({
    db,
    member: config.member,
    categories: config.categories,
    policy: config.policy,
    permanentRetentionDays: config.listings.permanentRetentionDays,
    tokenizer,
    now,
    onAppend: (_origin, size) => federation.signer.noteAppend(size),
  });
  const checkCounter = new CheckCounter({ repo: new CheckCountRepository(db), now, logger });
  const checks = new CheckService({
    db,
    federation: config.federation,
    policy: config.policy,
    tokenizer,
    now,
    counter: checkCounter,
    listingInForce: (origin, listedAt) => {
      const roster = federation.roster.current();
      return origin === config.member || !roster || entryAllowed(roster, origin, listedAt).ok;
    },
  });
  const audit = new AuditService({
    db,
    federation: config.federation,
    member: config.member,
    categories: config.categories,
    now,
    members: () => federation.roster.current()?.members.filter((m) => m.role === 'member').map((m) => m.id) ?? [],
    counter: checkCounter,
  });

  let ready = false;
  const metrics = createMetrics(() => federation.status(), () => readImportStatus(new NodeMetaRepository(db)));
  const app = createApp({
    metrics,
    logger,
    member: config.member,
    version: VERSION,
    keys,
    listings,
    checks,
    maxBodyBytes: config.http.maxBodyBytes,
    maxIdentifiersPerRequest: config.http.maxIdentifiersPerRequest,
    checkRateLimit: {
      limiter: new RateLimiter({ ratePerSecond: config.limits.check.ratePerSecond, burst: config.limits.check.burst }, () => now().getTime()),
      exemptScopes: config.limits.check.exemptScopes,
    },
    ready: () => ready,
    // The status route is registered before the federation routes: both live under
    // /v1/federation, and only the status route takes an API key rather than a peer signature.
    mount: [
      (a) => a.route('/', statusRoutes(keys, () => federation.status(), metrics)),
      (a) => a.route('/', auditRoutes(keys, audit)),
      (a) => a.route('/', federation.routes),
      (a) =>
        a.route(
          '/',
          dashboardRoutes({
            node: { member: config.member, role: config.role, federation: config.federation },
            publicUrl: config.http.publicUrl,
            keys,
            status: () => federation.status(),
            roster: () => federation.roster.current(),
            report: (window) => audit.report(window),
            listing: (id) => listings.get(id),
            receiptsFor: (matches) => checks.receiptsFor(matches),
            now,
          }),
        ),
    ],
  });

  let server: ServerType | undefined;
  let url: string | undefined;

  return {
    config,
    logger,
    database,
    identity,
    keys,
    listings,
    checks,
    audit,
    checkCounter,
    federation,
    app,
    get url() {
      return url;
    },
    async listen() {
      const started = await new Promise<ServerType>((resolve, reject) => {
        const s = serve({ fetch: app.fetch, hostname: config.http.host, port: config.http.port }, () => resolve(s));
        s.once('error', reject);
      });
      server = started;
      const address = started.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${host}:${address.port}`;
      await federation.start();
      checkCounter.start();
      ready = true;
      logger.info({ url, member: config.member, version: VERSION }, 'node listening');
      return url;
    },
    async stop() {
      ready = false;
      // The server first: a write still in flight when the stop began is acknowledged, so the
      // checkpoint signer must still be running to sign it (and tell peers) as the node goes down.
      if (server) {
        const s = server;
        const closed = new Promise<void>((resolve) => s.close(() => resolve()));
        // Idle keep-alive sockets would otherwise hold close() open until they time out. Peers keep
        // polling on theirs, so a socket busy at this moment may never sit idle for a whole
        // keep-alive timeout: sweep until the last one has finished its request and gone.
        let sweep: NodeJS.Timeout | undefined;
        if ('closeIdleConnections' in s) {
          s.closeIdleConnections();
          sweep = setInterval(() => s.closeIdleConnections(), 20);
        }
        await closed;
        clearInterval(sweep);
        server = undefined;
      }
      await federation.stop();
      // After the last request has finished, so every check served is counted.
      await checkCounter.stop().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'check counts of the last interval were not saved'));
      await database.close();
      logger.info({ member: config.member }, 'node stopped');
    },
  };
}
