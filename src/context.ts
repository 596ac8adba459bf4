/**
 * The composition root: what every entry point (a node, each CLI command, the federation part)
 * builds on. It holds the config, the logger and the clock, opens the database once and builds the
 * repositories over it; what costs more or needs a secret (the signing key, the tokenizer, the
 * trust root) is built on first use, so a command that never derives a token runs without the
 * epoch secrets (config/load.ts, `epochSecrets: 'optional'`). Tests hand in a temp database, a
 * fixed key, a fake clock or a captured logger through `overrides` instead of building a second
 * graph. The node's own parts (HTTP, federation, workers) are assembled over it in src/node.ts.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { AuditService, type AuditServiceDeps } from './audit/audit-service.js';
import { ApiKeyService, type ApiKeyLookup } from './service/api-keys.js';
import type { NodeConfig } from './config/load.js';
import type { Ed25519KeyPair } from './crypto/index.js';
import { AppError } from './errors.js';
import { parseTrustRootKey, type TrustRoot } from './federation/roster-holder.js';
import { SigningKeys } from './federation/signing-keys.js';
import { createHmacTokenDeriver } from './identifiers/tokens.js';
import { createLogger } from './logging.js';
import type { Roster } from './roster/index.js';
import { ApiKeyRepository } from './store/api-key-repository.js';
import { CheckpointRepository } from './store/checkpoint-repository.js';
import { migrateToLatest, openDatabase, type DatabaseHandle } from './store/database.js';
import { readKeyFile } from './store/key-file.js';
import { ListingReader } from './store/listing-repository.js';
import { LogReader } from './store/log-repository.js';
import { MisbehaviourRepository } from './store/misbehaviour-repository.js';
import { NodeMetaRepository } from './store/node-meta-repository.js';
import { RosterRepository } from './store/roster-repository.js';
import type { Database } from './store/tables.js';
import { Tokenizer } from './service/tokenizer.js';

export interface ContextOverrides {
  logger?: Logger | undefined;
  now?: (() => Date) | undefined;
  /** A database already open (a test's temp file): used instead of the config's, and closed with the context. */
  database?: DatabaseHandle | undefined;
  /**
   * How the database is opened: `readonly` for the audits that must not change what they check
   * (`jointban verify`), `migrate: false` for `jointban migrate`, which migrates itself; `file`
   * for another file than the config's (the staged copy `jointban restore` checks).
   */
  open?: { readonly?: boolean; migrate?: boolean; file?: string } | undefined;
  /** The node's key pair, instead of reading the key file. */
  identity?: Ed25519KeyPair | undefined;
}

/** The repositories over the one database; each is a thin, stateless reader or writer. */
export interface Repositories {
  apiKeys: ApiKeyRepository;
  checkpoints: CheckpointRepository;
  listings: ListingReader;
  log: LogReader;
  misbehaviour: MisbehaviourRepository;
  nodeMeta: NodeMetaRepository;
  rosters: RosterRepository;
}

/** The parts that need no database: for the commands that only read keys or the config. */
export interface BaseContext {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly now: () => Date;
  /** The node's signing key pair from its key file (read on first use). */
  identity(): Ed25519KeyPair;
  /** The key file and, during a rotation, the next key beside it (federation/signing-keys.ts). */
  signingKeys(): SigningKeys;
  /** Derives tokens: refuses when an epoch secret is missing from the environment. */
  tokenizer(): Tokenizer;
  /** The association's roster verifier key from `roster.trustRoot`; undefined when not set. */
  trustRoot(): TrustRoot | undefined;
}

export interface AppContext extends BaseContext {
  readonly database: DatabaseHandle;
  readonly db: Kysely<Database>;
  readonly repos: Repositories;
  /**
   * The latest roster the database holds, verified against the trust root: what the offline
   * commands decide by. Undefined when it holds none; refused when it does not verify.
   */
  heldRoster(): Promise<Roster | undefined>;
  /** API keys over this database; a node passes its in-memory lookup (the check store), a command none. */
  apiKeys(lookup?: ApiKeyLookup): ApiKeyService;
  /** The audit report over this database (a node passes its check counter, flushed before each report). */
  audit(parts: Pick<AuditServiceDeps, 'members' | 'counter'>): AuditService;
  /** Applies pending migrations (a context opened with `open.migrate: false`). */
  migrate(): ReturnType<typeof migrateToLatest>;
  /** Closes the database; the context is not used afterwards. */
  close(): Promise<void>;
}

/** Refuses a config loaded for the commands that need no secrets where a token is to be derived. */
export function assertEpochSecrets(config: NodeConfig): void {
  if (config.missingEpochSecrets.length > 0) {
    throw new AppError('invalid_input', `config ${config.configFile}: the secret of epoch ${config.missingEpochSecrets.join(', ')} is not set (tokens.epochs[].secretEnv)`);
  }
}

/** A value built on first use and kept. */
function once<T>(build: () => T): () => T {
  let built: { value: T } | undefined;
  return () => (built ??= { value: build() }).value;
}

export function createBaseContext(config: NodeConfig, overrides: Pick<ContextOverrides, 'logger' | 'now' | 'identity'> = {}): BaseContext {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const identity = once(() => overrides.identity ?? readKeyFile(config.signingKeyFile));
  const now = overrides.now ?? (() => new Date());
  return {
    config,
    logger,
    now,
    identity,
    signingKeys: once(() => new SigningKeys(config.signingKeyFile, identity(), logger)),
    tokenizer: once(() => {
      assertEpochSecrets(config);
      // The clock decides whether a national ID's birth date lies in the future.
      return new Tokenizer(createHmacTokenDeriver(config.epochs), config.defaultRegion, now);
    }),
    trustRoot: once(() => parseTrustRootKey(config.roster.trustRoot, config.federation)),
  };
}

export async function createContext(config: NodeConfig, overrides: ContextOverrides = {}): Promise<AppContext> {
  const base = createBaseContext(config, overrides);
  const { now, trustRoot } = base;
  const { file, ...open } = overrides.open ?? {};
  const onConnectionError = (err: Error) => base.logger.warn({ err: err.message }, 'database connection lost; the next request opens another');
  const database = overrides.database ?? (await openDatabase({ ...(file !== undefined ? { driver: 'sqlite', file } : config.database), ...open, onConnectionError }));
  const { db } = database;
  const repos: Repositories = {
    apiKeys: new ApiKeyRepository(db),
    checkpoints: new CheckpointRepository(db),
    listings: new ListingReader(db),
    log: new LogReader(db),
    misbehaviour: new MisbehaviourRepository(db),
    nodeMeta: new NodeMetaRepository(db),
    rosters: new RosterRepository(db),
  };
  let closed: Promise<void> | undefined;
  return {
    ...base,
    database,
    db,
    repos,
    async heldRoster() {
      const latest = await repos.rosters.latestVerified(trustRoot);
      if (latest.status === 'none') return undefined;
      if (latest.status === 'verified') return latest.roster;
      if (latest.error === undefined) throw new AppError('invalid_input', `${config.configFile}: roster.trustRoot is not set, so the roster this node holds cannot be verified`);
      throw new AppError('invalid_input', `the roster this node holds (version ${latest.version}) does not verify against the trust root: ${latest.error}`);
    },
    apiKeys: (lookup) => new ApiKeyService(repos.apiKeys, now, lookup),
    audit: (parts) => new AuditService({ db, federation: config.federation, member: config.member, categories: config.categories, now, ...parts }),
    migrate: () => migrateToLatest(db),
    close: () => (closed ??= database.close()),
  };
}
