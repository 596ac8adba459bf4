/**
 * A running node: its parts built over the composition root (src/context.ts), started and stopped
 * here. Everything is handed its dependencies, so tests can pass a temp data dir, a fixed clock or
 * a captured log stream (and, through the context's overrides, a temp database or a fixed key).
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './api/app.js';
import { auditRoutes } from './api/audit-routes.js';
import type { AuditService } from './audit/audit-service.js';
import { dashboardRoutes } from './api/dashboard/routes.js';
import { statusRoutes } from './api/status-routes.js';
import { watchRoutes } from './api/watch-routes.js';
import { assertEpochSecrets, createContext, type AppContext, type ContextOverrides } from './context.js';
import { Federation } from './federation/federation.js';
import { readImportStatus } from './jobs/import-status.js';
import { createMetrics } from './metrics.js';
import { entryAllowed } from './roster/index.js';
import type { NodeConfig } from './config/load.js';
import type { Ed25519KeyPair } from './crypto/index.js';
import { createLogger, nodeLogDestination } from './logging.js';
import type { ApiKeyService } from './service/api-keys.js';
import { CheckCounter } from './service/check-counter.js';
import { CheckService } from './service/checks.js';
import type { Tokenizer } from './service/tokenizer.js';
import { ListingService } from './service/listings.js';
import { RateLimiter } from './common/rate-limiter.js';
import { WatchService } from './service/watch.js';
import { EventWorker } from './service/webhook.js';
import { WatchLifts } from './service/watch-lifts.js';
import { CheckCountRepository } from './store/check-count-repository.js';
import type { DatabaseHandle } from './store/database.js';
import { assertConfigFilePrivate, readKeyFile, readSecretFile } from './store/key-file.js';
import { assertNoPendingRestore } from './store/restore.js';
import { openCheckStore, type CheckStore } from './store/token-index.js';
import { TOKEN_SNAPSHOT_FILE } from './store/token-snapshot.js';
import { VERSION } from './version.js';

/** How long a stop waits for requests in flight before it closes their connections. */
const STOP_GRACE_MS = 10_000;

/** The context's overrides (a temp database, a fixed key, a fake clock, a captured logger), and the node's own. */
export interface NodeDeps extends Pick<ContextOverrides, 'database' | 'identity'> {
  logger?: Logger;
  now?: () => Date;
  /** Where pages of mirrored logs are parsed, validated and committed: a worker script (the compiled one by default), or `false` for the main thread (federation/worker-committer.ts). */
  commitWorker?: URL | false;
}

export interface JointbanNode {
  /** The composition root the node is built on; closed when the node stops. */
  readonly context: AppContext;
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly database: DatabaseHandle;
  readonly identity: Ed25519KeyPair;
  readonly tokenizer: Tokenizer;
  readonly keys: ApiKeyService;
  readonly listings: ListingService;
  readonly checks: CheckService;
  /** The check hot path's token index and API-key lookup, on the database's engine; the index is warm before /readyz reports ready. */
  readonly checkStore: CheckStore;
  readonly audit: AuditService;
  /** Counts the checks served in memory; written every few seconds, before each report and on stop. */
  readonly checkCounter: CheckCounter;
  readonly federation: Federation;
  /** The watchlist of existing accounts and its events (docs/EVENTS.md). */
  readonly watch: WatchService;
  /** Delivers watch events to the webhook, and prunes old events. */
  readonly events: EventWorker;
  /** Records lift events for expired listings and roster changes (service/watch-lifts.ts). */
  readonly lifts: WatchLifts;
  readonly app: ReturnType<typeof createApp>;
  /** Listens on the configured host and port (0 = any free port); returns the URL. */
  listen(): Promise<string>;
  readonly url: string | undefined;
  /** Stops accepting requests, lets in-flight ones finish, stops the federation part (signing what they appended), then closes the database. */
  stop(): Promise<void>;
}

export async function createNode(config: NodeConfig, deps: NodeDeps = {}): Promise<JointbanNode> {
  const logger = deps.logger ?? createLogger(config.logLevel, nodeLogDestination());
  // Before the database is opened: a restore that has not verified leaves data no node may serve.
  assertNoPendingRestore(config.dataDir);
  // A node derives tokens: a config loaded for the commands that need no secrets cannot start one.
  assertEpochSecrets(config);
  // Refused, not warned about: like the key file, a readable secret is a leak already under way.
  assertConfigFilePrivate(config.configFile, config.secretInFile);
  const identity = deps.identity ?? readKeyFile(config.signingKeyFile);
  const context = await createContext(config, { logger, now: deps.now, database: deps.database, identity });
  // A later step of the start-up can still fail (an unreadable webhook secret, the own log's
  // state): then nothing of this node runs, so nothing of it may keep the database open.
  let abandonWarmUp = async () => {};
  try {
    const { now, database, db, repos } = context;
    const tokenizer = context.tokenizer();
    const checkStore = openCheckStore(database, {
      snapshotFile: join(config.dataDir, TOKEN_SNAPSHOT_FILE),
      onSnapshotError: (err) => logger.warn({ err: err.message }, 'token set snapshot not written; the next start reads the tokens from the database'),
      logger,
    });
    const tokenIndex = checkStore.tokens;
    // Started now, so it overlaps the rest of the start-up; /readyz waits for it (see token-index.ts).
    abandonWarmUp = () => checkStore.close();
    const warming = tokenIndex.warmUp().then(
      (done) => done && logger.info({ tokens: tokenIndex.stats.tokens, from: tokenIndex.stats.source }, 'token set warm'),
      (err: unknown) => logger.error({ err: (err as Error).message }, 'token set warm-up failed; checks read the database through Kysely'),
    );

    const keys = context.apiKeys(checkStore.apiKeys);
    // Lift (and reinstatement) events that no listing write causes: expiries and roster changes.
    const lifts = new WatchLifts({
      db,
      self: config.member,
      roster: () => federation.roster.current(),
      sweepIntervalMs: config.events.sweepIntervalMs,
      now,
      logger,
    });
    const federation = new Federation({ context, onRosterChange: () => lifts.rosterChanged(), commitWorker: deps.commitWorker });
    const listings = new ListingService({
      db,
      member: config.member,
      categories: config.categories,
      policy: config.policy,
      permanentRetentionDays: config.listings.permanentRetentionDays,
      maxListingDays: config.listings.maxListingDays,
      tokenizer,
      now,
      onAppend: (_origin, size) => federation.signer.noteAppend(size),
      assertWritable: () => federation.ownLog.assertWritable(),
      roster: () => federation.roster.current(),
      // Witnessed: signed at once rather than at the end of the checkpoint interval (flushes chain,
      // so concurrent writes still share one signature), then the witness's cosignature awaited.
      awaitDurable: config.durability.mode === 'witnessed' ? (size) => federation.signer.flush().then(() => federation.witnessed.awaitCosigned(size)) : undefined,
    });
    await federation.ownLog.load();
    const listingInForce = (origin: string, listedAt: string): boolean => {
      const roster = federation.roster.current();
      return origin === config.member || !roster || entryAllowed(roster, origin, listedAt).ok;
    };
    const checkCounter = new CheckCounter({ repo: new CheckCountRepository(db), now, logger });
    const checks = new CheckService({
      db,
      federation: config.federation,
      policy: config.policy,
      tokenizer,
      now,
      counter: checkCounter,
      fastMatch: tokenIndex,
      listingInForce,
    });
    const audit = context.audit({
      members: () =>
        federation.roster
          .current()
          ?.members.filter((m) => m.role === 'member')
          .map((m) => m.id) ?? [],
      counter: checkCounter,
    });

    const webhookConfig = config.events.webhook;
    const watch = new WatchService({ db, tokenizer, policy: config.policy, now, listingInForce, webhookUrl: webhookConfig.url, counter: checkCounter });
    // Read once at start; the secret itself is never logged (docs/EVENTS.md).
    const webhook =
      webhookConfig.url !== undefined && webhookConfig.secretFile !== undefined
        ? { ...webhookConfig, url: webhookConfig.url, secret: readSecretFile(webhookConfig.secretFile, 'webhook secret file') }
        : undefined;

    let ready = false;
    const metrics = createMetrics(
      () => federation.status(),
      () => watch.status(),
      () => readImportStatus(repos.nodeMeta),
    );
    const events = new EventWorker({ db, watch, webhook, retentionDays: config.events.retentionDays, now, logger, metrics });
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
      ready: () => ready && tokenIndex.warm,
      databaseReachable: () => database.reachable(),
      // The status route is registered before the federation routes: both live under
      // /v1/federation, and only the status route takes an API key rather than a peer signature.
      mount: [
        (a) =>
          a.route(
            '/',
            statusRoutes(keys, async () => ({ ...(await federation.status()), events: await watch.status() }), metrics),
          ),
        (a) =>
          a.route(
            '/',
            watchRoutes({
              keys,
              watch,
              maxBodyBytes: config.http.maxBodyBytes,
              maxIdentifiersPerRequest: config.http.maxIdentifiersPerRequest,
              watchRateLimit: {
                limiter: new RateLimiter({ ratePerSecond: config.limits.watch.ratePerSecond, burst: config.limits.watch.burst }, () => now().getTime()),
                exemptScopes: config.limits.watch.exemptScopes,
              },
            }),
          ),
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
      context,
      config,
      logger,
      database,
      identity,
      tokenizer,
      keys,
      listings,
      checks,
      checkStore,
      audit,
      checkCounter,
      federation,
      watch,
      events,
      lifts,
      app,
      get url() {
        return url;
      },
      async listen() {
        // Before the first request can arrive: writes wait for the start-up comparison of the own log.
        federation.ownLog.holdForStartupCheck();
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
        events.start();
        lifts.start();
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
          let grace: NodeJS.Timeout | undefined;
          if ('closeIdleConnections' in s) {
            s.closeIdleConnections();
            sweep = setInterval(() => s.closeIdleConnections(), 20);
            // A request still open after the grace (a caller trickling its request, or reading the
            // answer a byte at a time) is cut: no remote party can hold a stop.
            grace = setTimeout(() => s.closeAllConnections(), STOP_GRACE_MS);
          }
          await closed;
          clearInterval(sweep);
          clearTimeout(grace);
          server = undefined;
        }
        await federation.stop();
        await events.stop();
        await lifts.stop();
        // After the last request has finished, so every check served is counted.
        await checkCounter.stop().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'check counts of the last interval were not saved'));
        // After the last request, so the snapshot holds every token the database holds; a warm-up
        // still running is abandoned instead.
        if (tokenIndex.warm) await tokenIndex.saveSnapshot();
        await checkStore.close();
        await warming;
        await context.close();
        logger.info({ member: config.member }, 'node stopped');
      },
    };
  } catch (err) {
    await abandonWarmUp().catch(() => undefined);
    await context.close().catch(() => undefined);
    throw err;
  }
}
