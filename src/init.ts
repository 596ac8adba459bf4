/**
 * Creating a node's data directory: config file, signing key, database with migrations applied,
 * and a first admin API key. Used by `jointban init`, by `npm start` on a fresh machine, by the
 * demo and by tests, so every node starts from the same layout.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONFIG_FILE_NAME, loadConfig, type NodeConfig } from './config/load.js';
import type { ConfigFile } from './config/schema.js';
import { MEMBER_ID_PATTERN } from './config/schema.js';
import { generateEd25519KeyPair, randomBytes, type Ed25519KeyPair } from './crypto/index.js';
import { toHex } from './crypto/encoding.js';
import { createContext } from './context.js';
import { AppError } from './errors.js';
import { createLogger } from './logging.js';
import { writeKeyFile } from './store/key-file.js';

export interface InitOptions {
  dataDir: string;
  member: string;
  host?: string | undefined;
  port?: number | undefined;
  role?: 'member' | 'association' | undefined;
  federation?: string | undefined;
  /** Epoch secrets issued by the association; without them a fresh epoch-1 secret is generated. */
  epochs?: { epoch: number; secret: Uint8Array }[] | undefined;
  keyPair?: Ed25519KeyPair | undefined;
  /** Further config keys merged into the written file (the demo and tests use this). */
  extra?: Partial<ConfigFile> | undefined;
}

export interface InitResult {
  config: NodeConfig;
  publicKey: Uint8Array;
  adminKey: string;
}

export async function initDataDir(options: InitOptions): Promise<InitResult> {
  const dataDir = resolve(options.dataDir);
  if (!MEMBER_ID_PATTERN.test(options.member)) {
    throw new AppError('invalid_input', '--member: must be 2-32 characters of a-z, 0-9 and "-", starting with a letter');
  }
  const configFile = join(dataDir, CONFIG_FILE_NAME);
  if (existsSync(configFile)) throw new AppError('conflict', `${configFile} already exists: this data directory is already initialised`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // An existing directory keeps the mode it was made with, and may hold a database left from before:
  // both become the node user's only, as a directory init creates would be.
  chmodSync(dataDir, 0o700);

  const epochs = options.epochs ?? [{ epoch: 1, secret: randomBytes(32) }];
  // Extra http keys (a body limit, say) are merged into the section, so they keep host and port.
  const { http: extraHttp, ...extra } = options.extra ?? {};
  const file: ConfigFile = {
    member: options.member,
    role: options.role ?? 'member',
    ...(options.federation ? { federation: options.federation } : {}),
    http: { host: options.host ?? '127.0.0.1', port: options.port ?? 7300, ...extraHttp },
    tokens: { epochs: epochs.map((e) => ({ epoch: e.epoch, secret: toHex(e.secret) })) },
    ...extra,
  };
  // The file holds epoch secrets: readable by the node's user only.
  writeFileSync(configFile, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  // Only the database URL from the environment: it may carry the password the file leaves out.
  const databaseUrl = process.env.JOINTBAN_DATABASE_URL;
  const config = loadConfig(dataDir, databaseUrl !== undefined ? { JOINTBAN_DATABASE_URL: databaseUrl } : {});
  const keyPair = options.keyPair ?? generateEd25519KeyPair();
  writeKeyFile(config.signingKeyFile, keyPair);

  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    if (existsSync(`${config.databaseFile}${suffix}`)) chmodSync(`${config.databaseFile}${suffix}`, 0o600);
  }
  const context = await createContext(config, { logger: createLogger('silent'), identity: keyPair });
  try {
    const admin = await context.apiKeys().create('admin', 'initial admin key');
    return { config, publicKey: keyPair.publicKey, adminKey: admin.key };
  } finally {
    await context.close();
  }
}
