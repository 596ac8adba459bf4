/**
 * The composition root: builds every part of a node from its configuration, and starts and stops
 * it. Everything is handed its dependencies here, so tests can pass a temp data dir, a fixed clock
 * or a captured log stream.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './api/app.js';
import { statusRoutes } from './api/status-routes.js';
import { Federation } from './federation/federation.js';
import type { NodeConfig } from './config/load.js';
import type { Ed25519KeyPair } from './crypto/index.js';
import { createHmacTokenDeriver } from './identifiers/tokens.js';
import { createLogger } from './logging.js';
import { ApiKeyService } from './service/api-keys.js';
import { CheckService } from './service/checks.js';
import { Tokenizer } from './service/identifiers.js';
import { ListingService } from './service/listings.js';
import { ApiKeyRepository } from './store/api-key-repository.js';
import { openDatabase, type DatabaseHandle } from './store/database.js';
import { readKeyFile } from './store/key-file.js';
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
  readonly federation: Federation;
  readonly app: ReturnType<typeof createApp>;
  /** Listens on the configured host and port (0 = any free port); returns the URL. */
  listen(): Promise<string>;
  readonly url: string | undefined;
  /** Stops accepting requests, lets in-flight ones finish, then closes the database. */
  stop(): Promise<void>;
}

export async function createNode(config: NodeConfig, deps: NodeDeps = {}): Promise<JointbanNode> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const now = deps.now ?? (() => new Date());
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
  const checks = new CheckService({ db, federation: config.federation, policy: config.policy, tokenizer, now });

  let ready = false;
  const app = createApp({
    logger,
    member: config.member,
    version: VERSION,
    keys,
    listings,
    checks,
    maxBodyBytes: config.http.maxBodyBytes,
    maxIdentifiersPerRequest: config.http.maxIdentifiersPerRequest,
    ready: () => ready,
    // The status route is registered before the federation routes: both live under
    // /v1/federation, and only the status route takes an API key rather than a peer signature.
    mount: [(a) => a.route('/', statusRoutes(keys, () => federation.status())), (a) => a.route('/', federation.routes)],
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
      ready = true;
      logger.info({ url, member: config.member, version: VERSION }, 'node listening');
      return url;
    },
    async stop() {
      ready = false;
      await federation.stop();
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
      await database.close();
      logger.info({ member: config.member }, 'node stopped');
    },
  };
}
