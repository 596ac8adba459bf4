/** Option parsers shared by commands: each rejects a bad value with a one-line reason. */
import { InvalidArgumentError } from 'commander';
import { loadConfig, type NodeConfig } from '../config/load.js';
import { createBaseContext, createContext, type AppContext, type BaseContext, type ContextOverrides } from '../context.js';
import { createLogger } from '../logging.js';

export function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return Number(value);
}

export function parsePositiveInt(value: string): number {
  if (!/^[1-9]\d{0,8}$/.test(value)) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}

/** The config of a command that derives tokens: every epoch secret must be available. */
export function configFor(dataDir: string): NodeConfig {
  return loadConfig(dataDir);
}

/**
 * The config of a command that derives no token (verify, backup, restore, keys, roster, …): it runs
 * without the epoch secrets in its environment (config/load.ts, `epochSecrets`).
 */
export function configWithoutSecrets(dataDir: string): NodeConfig {
  return loadConfig(dataDir, process.env, { epochSecrets: 'optional' });
}

/** `http://host:port`, with an IPv6 address in brackets (RFC 3986 §3.2.2). */
export function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The composition root over the data directory's database (src/context.ts); the node's logs are not wanted on a command's output. */
export function openContext(config: NodeConfig, overrides: ContextOverrides = {}): Promise<AppContext> {
  return createContext(config, { logger: createLogger('silent'), ...overrides });
}

/** Its parts that need no database (the signing key, the trust root). */
export function baseContext(config: NodeConfig): BaseContext {
  return createBaseContext(config, { logger: createLogger('silent') });
}

/** Runs `fn` on the composition root (`openContext`) and closes it afterwards. */
export async function withContext<T>(config: NodeConfig, fn: (context: AppContext) => Promise<T>, overrides: ContextOverrides = {}): Promise<T> {
  const context = await openContext(config, overrides);
  try {
    return await fn(context);
  } finally {
    await context.close();
  }
}
