/**
 * The node's configuration file (`<data-dir>/jointban.json`): its schema, defaults and the
 * environment variables that override it. Every key is documented in docs/CONFIGURATION.md and
 * the example in config/node.example.json is loaded by a test, so neither can go stale.
 */
import { z } from 'zod';

export const MEMBER_ID_PATTERN = /^[a-z][a-z0-9-]{1,31}$/;

const memberId = z.string().regex(MEMBER_ID_PATTERN, 'must be 2-32 characters of a-z, 0-9 and "-", starting with a letter');
const port = z.number().int().min(0).max(65535);
const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex characters (32 bytes)');

const epochSchema = z
  .object({
    epoch: z.number().int().min(1).max(0xffffffff),
    secret: hex32.optional(),
    secretEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name')
      .optional(),
  })
  .strict();

export const configFileSchema = z
  .object({
    member: memberId,
    role: z.enum(['member', 'association']).default('member'),
    federation: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{0,126}$/, 'must be a lower-case host-like name, e.g. jointban.example')
      .default('jointban.example'),
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(7300),
        publicUrl: z.url().optional(),
        maxBodyBytes: z
          .number()
          .int()
          .min(1024)
          .max(16 * 1024 * 1024)
          .default(256 * 1024),
        maxIdentifiersPerRequest: z.number().int().min(1).max(64).default(16),
      })
      .strict()
      .prefault({}),
    database: z
      .object({
        // sqlite: one file in the data directory (the embedded default); postgres: a server the
        // platform already operates (docs/OPERATIONS.md, "PostgreSQL").
        driver: z.enum(['sqlite', 'postgres']).default('sqlite'),
        file: z.string().min(1).default('jointban.db'),
        // postgres://user[:password]@host[:port]/database; JOINTBAN_DATABASE_URL overrides it, so
        // the password need not be in the file.
        url: z.string().min(1).optional(),
        // Connections the node keeps open; every request holds one for a few statements at most.
        poolSize: z.number().int().min(1).max(200).default(10),
        // Bounds every statement on the server: a query past it fails with 503, never a hang.
        statementTimeoutMs: z.number().int().min(100).max(3_600_000).optional(),
        // Bounds opening a connection (an unreachable server, a full pool).
        connectTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
      })
      .strict()
      .prefault({}),
    keys: z
      .object({ signingKeyFile: z.string().min(1).default('keys/node.key') })
      .strict()
      .prefault({}),
    tokens: z
      // At most 32: a listing carries a token per identifier and epoch, 32 at most (PROTOCOL.md).
      .object({ epochs: z.array(epochSchema).min(1, 'at least one token epoch is required').max(32, 'at most 32 token epochs') })
      .strict(),
    identifiers: z
      .object({
        defaultRegion: z
          .string()
          .regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as CN')
          .default('CN'),
      })
      .strict()
      .prefault({}),
    policy: z
      .object({ file: z.string().min(1).optional() })
      .strict()
      .prefault({}),
    categories: z
      .object({ file: z.string().min(1).optional() })
      .strict()
      .prefault({}),
    listings: z
      .object({
        permanentRetentionDays: z.number().int().min(1).max(36500).default(1095),
        // The latest expiresAt a new listing may carry, in days from now (service/listings.ts).
        maxListingDays: z.number().int().min(1).max(36500).default(36500),
      })
      .strict()
      .refine((l) => l.permanentRetentionDays <= l.maxListingDays, {
        message: 'must be at least permanentRetentionDays: a permanent ban without expiresAt would be refused',
        path: ['maxListingDays'],
      })
      .prefault({}),
    roster: z
      .object({
        trustRoot: z.string().min(1).max(512).optional(),
        file: z.string().min(1).optional(),
        url: z.url().optional(),
        refreshIntervalMs: z.number().int().min(1000).max(86_400_000).default(60_000),
      })
      .strict()
      .refine((r) => (r.file === undefined && r.url === undefined) || r.trustRoot !== undefined, {
        message: 'trustRoot is required when a roster file or url is set',
        path: ['trustRoot'],
      })
      .prefault({}),
    sync: z
      .object({
        pollIntervalMs: z.number().int().min(100).max(3_600_000).default(5_000),
        pageSize: z.number().int().min(1).max(10_000).default(5_000),
        backoffBaseMs: z.number().int().min(10).max(600_000).default(500),
        backoffMaxMs: z.number().int().min(100).max(3_600_000).default(60_000),
        requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
        // One origin's ingest from one peer, every page of it: bounds how long a peer holds the origin's lock.
        ingestTimeoutMs: z.number().int().min(1_000).max(86_400_000).default(300_000),
        maxResponseBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .max(512 * 1024 * 1024)
          .default(32 * 1024 * 1024),
        maxSkewSeconds: z.number().int().min(5).max(3600).default(300),
        // "transition" only while a federation upgrades to request signatures that cover @authority (docs/OPERATIONS.md).
        requestAuthority: z.enum(['required', 'transition']).default('required'),
        requireCosignature: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    // When a listing or retraction is acknowledged (docs/CONFIGURATION.md, "Durability"): once
    // committed to the local database, or once the witness has also cosigned a checkpoint covering it.
    durability: z
      .object({
        mode: z.enum(['local', 'witnessed']).default('local'),
        witnessTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
        witnessPollMs: z.number().int().min(10).max(60_000).default(50),
      })
      .strict()
      .prefault({}),
    checkpoints: z
      .object({
        intervalMs: z.number().int().min(10).max(60_000).default(250),
        maxEntries: z.number().int().min(1).max(1_000_000).default(1_000),
      })
      .strict()
      .prefault({}),
    logging: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
    // Watchlist events and their webhook (docs/EVENTS.md).
    events: z
      .object({
        retentionDays: z.number().int().min(1).max(3650).default(90),
        // How often expired listings and roster changes are looked for, to record lift events (service/watch-lifts.ts).
        sweepIntervalMs: z.number().int().min(10).max(3_600_000).default(60_000),
        webhook: z
          .object({
            url: z.url().optional(),
            secretFile: z.string().min(1).optional(),
            timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
            maxAttempts: z.number().int().min(1).max(100).default(18),
            backoffBaseMs: z.number().int().min(10).max(3_600_000).default(1_000),
            backoffMaxMs: z.number().int().min(100).max(86_400_000).default(3_600_000),
            pollIntervalMs: z.number().int().min(10).max(600_000).default(1_000),
          })
          .strict()
          .refine((w) => w.url === undefined || w.secretFile !== undefined, { message: 'secretFile is required when a webhook url is set', path: ['secretFile'] })
          .prefault({}),
      })
      .strict()
      .prefault({}),
    // Abuse limits (docs/SECURITY.md, "Limits"); the older ones live in http and sync.
    limits: z
      .object({
        check: z
          .object({
            // Identifiers (and tokens) tested per second per API key, not requests: see api/rate-limit.ts.
            ratePerSecond: z.number().min(0.001).max(1_000_000).default(50),
            burst: z.number().int().min(1).max(1_000_000).default(200),
            // The API-key scopes that may check (api-keys.ts SCOPE_GRANTS); auditor keys cannot.
            exemptScopes: z.array(z.enum(['check', 'write', 'admin'])).default([]),
          })
          .strict()
          .prefault({}),
        watch: z
          .object({
            // Identifiers enrolled per second per API key through PUT /v1/watch: a watch that matches
            // records an event at once, so it tests identifiers like a check (api/rate-limit.ts). Larger
            // than the check's, for enrolling a platform's existing accounts; the burst fits one full request.
            ratePerSecond: z.number().min(0.001).max(1_000_000).default(500),
            burst: z.number().int().min(1).max(1_000_000).default(20_000),
            exemptScopes: z.array(z.enum(['write', 'admin'])).default([]),
          })
          .strict()
          .prefault({}),
        peerConcurrency: z.number().int().min(1).max(1024).default(16),
        peerRatePerSecond: z.number().min(0.001).max(1_000_000).default(100),
        peerBurst: z.number().int().min(1).max(1_000_000).default(1000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((c) => c.durability.mode !== 'witnessed' || c.roster.file !== undefined || c.roster.url !== undefined, {
    message: 'durability.mode "witnessed" needs a roster (roster.file or roster.url): the witness is its association',
    path: ['durability', 'mode'],
  });

export type ConfigFile = z.input<typeof configFileSchema>;
export type ParsedConfigFile = z.output<typeof configFileSchema>;

/** Environment variables that override config keys, with the key each one sets. */
export const ENV_OVERRIDES = {
  JOINTBAN_HTTP_HOST: 'http.host',
  JOINTBAN_HTTP_PORT: 'http.port',
  JOINTBAN_PUBLIC_URL: 'http.publicUrl',
  JOINTBAN_LOG_LEVEL: 'logging.level',
  JOINTBAN_DATABASE_URL: 'database.url',
} as const;
