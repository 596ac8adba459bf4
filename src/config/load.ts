/**
 * Reads, validates and resolves a node's configuration once, at start. A bad value is an error
 * that names the key and why, never a silent fallback (PORT=abc is not a port).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { fromHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import { isSupportedPhoneRegion } from '../identifiers/phone.js';
import type { EpochSecret } from '../identifiers/tokens.js';
import { parsePolicy, type Policy } from '../policy/index.js';
import { shippedConfigPath } from './package-root.js';
import { configFileSchema, ENV_OVERRIDES, type ParsedConfigFile } from './schema.js';

export const CONFIG_FILE_NAME = 'jointban.json';

export interface NodeConfig {
  dataDir: string;
  configFile: string;
  member: string;
  role: ParsedConfigFile['role'];
  federation: string;
  http: ParsedConfigFile['http'];
  /** The SQLite file (resolved against the data directory), also where a PostgreSQL node has none. */
  databaseFile: string;
  /** Which engine holds the node's data, and how to reach it. */
  database: DatabaseConfig;
  signingKeyFile: string;
  /** The epoch secrets resolved; with `epochSecrets: 'optional'` those whose variable is unset are left out. */
  epochs: EpochSecret[];
  /** Epochs whose secret was not available (only ever non-empty with `epochSecrets: 'optional'`). */
  missingEpochSecrets: number[];
  /** The file itself holds an epoch secret (`tokens.epochs[].secret`): it must be readable by the node's user only. */
  secretInFile: boolean;
  defaultRegion: string;
  policy: Policy;
  categories: readonly string[];
  listings: ParsedConfigFile['listings'];
  logLevel: ParsedConfigFile['logging']['level'];
  roster: ParsedConfigFile['roster'];
  sync: ParsedConfigFile['sync'];
  checkpoints: ParsedConfigFile['checkpoints'];
  durability: ParsedConfigFile['durability'];
  limits: ParsedConfigFile['limits'];
  /** `webhook.secretFile` resolved against the data directory; the secret is read at start. */
  events: ParsedConfigFile['events'];
}

export type DatabaseConfig =
  | { driver: 'sqlite'; file: string }
  | {
      driver: 'postgres';
      /** The connection URL, password included: never logged (store/postgres/url.ts redacts it). */
      url: string;
      poolSize: number;
      statementTimeoutMs: number | undefined;
      connectTimeoutMs: number;
    };

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadOptions {
  /**
   * `required` (the default) for everything that derives tokens (start, check, import, relist,
   * rescan): an epoch without its secret is an error. `optional` for the commands that never
   * derive one (verify, backup, restore, keys, roster, report, …): an epoch whose `secretEnv`
   * variable is unset is left out, so they run without the secrets in their environment. A secret
   * that is present but malformed is an error either way.
   */
  epochSecrets?: 'required' | 'optional';
}

export function configError(file: string, message: string): AppError {
  return new AppError('invalid_input', `config ${file}: ${message}`);
}

function formatZodIssues(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.join('.') || '(top level)';
  return `${path}: ${issue.message}`;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw configError(file, code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? 'error'})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    // Not V8's message: it quotes the text around the error, which can be part of an epoch secret.
    const position = /at position (\d+)/.exec((err as Error).message)?.[1];
    throw configError(file, `not valid JSON${position !== undefined ? ` (at character ${position})` : ''}`);
  }
}

/** Applies ENV_OVERRIDES to the raw file object before validation, so they get the same checks. */
function applyEnv(raw: unknown, env: Env, file: string): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const out = structuredClone(raw) as Record<string, unknown>;
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined) continue;
    const [section, field] = key.split('.') as [string, string];
    const target = (out[section] ??= {}) as Record<string, unknown>;
    if (field === 'port') {
      if (!/^\d{1,5}$/.test(value)) throw configError(file, `${name}=${JSON.stringify(value)}: must be a port number`);
      target[field] = Number(value);
    } else {
      target[field] = value;
    }
  }
  return out;
}

function resolveEpochs(parsed: ParsedConfigFile, env: Env, file: string, optional: boolean): { epochs: EpochSecret[]; missing: number[] } {
  const seen = new Set<number>();
  const missing: number[] = [];
  const epochs = parsed.tokens.epochs.map((e, i): EpochSecret | undefined => {
    const key = `tokens.epochs[${i}]`;
    if (seen.has(e.epoch)) throw configError(file, `${key}.epoch: epoch ${e.epoch} is listed twice`);
    seen.add(e.epoch);
    // JOINTBAN_EPOCH_SECRET_<N> wins, then the named secretEnv, then the file: operators keep
    // secrets out of files they back up or share by moving them to the environment.
    const envName = env[`JOINTBAN_EPOCH_SECRET_${e.epoch}`] !== undefined ? `JOINTBAN_EPOCH_SECRET_${e.epoch}` : e.secretEnv;
    const fromEnv = envName !== undefined ? env[envName] : undefined;
    if (envName !== undefined && e.secretEnv === envName && fromEnv === undefined) {
      if (optional) {
        missing.push(e.epoch);
        return undefined;
      }
      throw configError(file, `${key}.secretEnv: environment variable ${envName} is not set`);
    }
    const text = fromEnv ?? e.secret;
    if (text === undefined) throw configError(file, `${key}: needs "secret" or "secretEnv"`);
    const secret = fromHex(text);
    if (!secret || secret.length !== 32) {
      throw configError(file, `${fromEnv !== undefined ? envName : `${key}.secret`}: must be 64 lower-case hex characters (32 bytes)`);
    }
    return { epoch: e.epoch, secret };
  });
  return { epochs: epochs.filter((e): e is EpochSecret => e !== undefined), missing };
}

function loadPolicy(path: string): Policy {
  const result = parsePolicy(readJson(path));
  if (!result.ok) throw configError(path, result.errors.join('; '));
  return result.policy;
}

const categoriesSchema = z.object({
  comment: z.string().optional(),
  categories: z.array(z.string().regex(/^[a-z][a-z0-9_]{1,63}$/, 'must be lower-case snake_case')).min(1),
});

function loadCategories(path: string): string[] {
  const result = categoriesSchema.safeParse(readJson(path));
  if (!result.success) throw configError(path, formatZodIssues(result.error));
  return [...new Set(result.data.categories)];
}

function urlHasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

function resolveDatabase(section: ParsedConfigFile['database'], file: string, configFile: string): DatabaseConfig {
  if (section.driver === 'sqlite') return { driver: 'sqlite', file };
  if (section.url === undefined) throw configError(configFile, 'database.url: the postgres driver needs a URL (or JOINTBAN_DATABASE_URL)');
  let url: URL;
  try {
    url = new URL(section.url);
  } catch {
    // Not the text: it may hold the password.
    throw configError(configFile, 'database.url: not a URL (postgres://user:password@host:5432/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw configError(configFile, `database.url: must start with postgres:// (not ${url.protocol}//)`);
  if (url.pathname.length <= 1) throw configError(configFile, 'database.url: names no database (postgres://user:password@host:5432/database)');
  return { driver: 'postgres', url: section.url, poolSize: section.poolSize, statementTimeoutMs: section.statementTimeoutMs, connectTimeoutMs: section.connectTimeoutMs };
}

export function loadConfig(dataDir: string, env: Env = process.env, options: LoadOptions = {}): NodeConfig {
  const dir = resolve(dataDir);
  const file = join(dir, CONFIG_FILE_NAME);
  return resolveConfig(dir, file, readJson(file), env, options);
}

/** Validates a raw config object (already read) against the schema and resolves it. */
export function resolveConfig(dataDir: string, file: string, raw: unknown, env: Env = process.env, options: LoadOptions = {}): NodeConfig {
  const result = configFileSchema.safeParse(applyEnv(raw, env, file));
  if (!result.success) throw configError(file, formatZodIssues(result.error));
  const parsed = result.data;
  // The schema checks the form; the phone metadata decides which regions exist. Checked here so a
  // bad region stops the node at start instead of failing every phone check later.
  if (!isSupportedPhoneRegion(parsed.identifiers.defaultRegion)) {
    throw configError(file, `identifiers.defaultRegion: ${parsed.identifiers.defaultRegion} is not a region the phone number metadata knows`);
  }
  const inDataDir = (p: string) => (isAbsolute(p) ? p : join(dataDir, p));
  const epochs = resolveEpochs(parsed, env, file, options.epochSecrets === 'optional');
  const database = resolveDatabase(parsed.database, inDataDir(parsed.database.file), file);
  const urlInFile = (raw as { database?: { url?: unknown } } | null)?.database?.url;
  return {
    dataDir,
    configFile: file,
    member: parsed.member,
    role: parsed.role,
    federation: parsed.federation,
    http: parsed.http,
    databaseFile: inDataDir(parsed.database.file),
    database,
    signingKeyFile: inDataDir(parsed.keys.signingKeyFile),
    epochs: epochs.epochs,
    missingEpochSecrets: epochs.missing,
    // A database password in the file is a secret too (JOINTBAN_DATABASE_URL keeps it out).
    secretInFile: parsed.tokens.epochs.some((e) => e.secret !== undefined) || (typeof urlInFile === 'string' && urlHasPassword(urlInFile)),
    defaultRegion: parsed.identifiers.defaultRegion,
    policy: loadPolicy(parsed.policy.file ? inDataDir(parsed.policy.file) : shippedConfigPath('policy.json')),
    categories: loadCategories(parsed.categories.file ? inDataDir(parsed.categories.file) : shippedConfigPath('categories.json')),
    listings: parsed.listings,
    logLevel: parsed.logging.level,
    roster: { ...parsed.roster, ...(parsed.roster.file ? { file: inDataDir(parsed.roster.file) } : {}) },
    sync: parsed.sync,
    checkpoints: parsed.checkpoints,
    durability: parsed.durability,
    limits: parsed.limits,
    events: { ...parsed.events, webhook: { ...parsed.events.webhook, ...(parsed.events.webhook.secretFile ? { secretFile: inDataDir(parsed.events.webhook.secretFile) } : {}) } },
  };
}
