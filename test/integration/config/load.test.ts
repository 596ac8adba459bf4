/**
 * Loading a node's configuration: the shipped example loads and shows every default, the docs name
 * every key, each bad value is an error naming its key, environment overrides apply and are
 * validated like the file, and no error message ever carries a secret.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig, resolveConfig, type Env, type NodeConfig } from '../../../src/config/load.js';
import { configFileSchema, ENV_OVERRIDES } from '../../../src/config/schema.js';
import { initDataDir } from '../../../src/init.js';
import { tempDir } from '../../helpers/test-node.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const EXAMPLE = join(ROOT, 'config', 'node.example.json');
const SECRET = '5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e7a1b2';
const OTHER_SECRET = 'd00dfeedd00dfeedd00dfeedd00dfeedd00dfeedd00dfeedd00dfeedd00dfeed';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

type Raw = Record<string, unknown>;
const minimal = (): Raw => ({ member: 'alpha', tokens: { epochs: [{ epoch: 1, secret: SECRET }] } });

function resolve(raw: unknown, env: Env = {}): NodeConfig {
  const dir = dataDir();
  return resolveConfig(dir, join(dir, CONFIG_FILE_NAME), raw, env);
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

/** Every key path the schema accepts: `http.port`, `tokens.epochs[].secret`, … */
function schemaKeys(schema: z.ZodType, prefix = ''): string[] {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodObject) return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => schemaKeys(v, prefix ? `${prefix}.${k}` : k));
  if (s instanceof z.ZodArray) return [prefix, ...schemaKeys(s.element as z.ZodType, `${prefix}[]`)];
  return [prefix];
}

/** Leaf values by key path; arrays are leaves. */
function leaves(value: unknown, prefix = ''): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { [prefix]: value };
  return Object.assign({}, ...Object.entries(value).map(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k))) as Record<string, unknown>;
}

describe('config/node.example.json', () => {
  const example = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Raw;

  it('loads, with its epoch secret from the environment', () => {
    const config = resolve(example, { JOINTBAN_EPOCH_SECRET_1: SECRET });
    expect(config.member).toBe('example-platform');
    expect(config.epochs).toEqual([{ epoch: 1, secret: bytes(SECRET) }]);
    expect(config.policy.registration.rules.length).toBeGreaterThan(0);
    expect(config.categories).toContain('fraud');
  });

  it('lists every key that has a default, set to that default', () => {
    const defaults = leaves(configFileSchema.parse(minimal()));
    const shown = leaves(example);
    expect(Object.keys(shown).sort()).toEqual(Object.keys(defaults).sort());
    for (const [key, value] of Object.entries(defaults)) {
      if (key !== 'member' && key !== 'tokens.epochs') expect(shown[key], key).toEqual(value);
    }
  });

  it('docs/CONFIGURATION.md documents every key and environment variable', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'CONFIGURATION.md'), 'utf8');
    for (const key of schemaKeys(configFileSchema)) expect(doc, key).toContain(`\`${key}\``);
    for (const name of [...Object.keys(ENV_OVERRIDES), 'JOINTBAN_EPOCH_SECRET_<N>']) expect(doc, name).toContain(`\`${name}\``);
  });
});

describe('each bad value is an error naming its key', () => {
  const epoch = (e: Raw) => ({ tokens: { epochs: [{ epoch: 1, secret: SECRET, ...e }] } });
  const cases: [string, Raw, RegExp][] = [
    ['a missing member', { member: undefined }, /: member: /],
    ['a bad member id', { member: 'Alpha Platform' }, /: member: /],
    ['an unknown role', { role: 'king' }, /: role: /],
    ['a bad federation name', { federation: 'Jointban Example' }, /: federation: /],
    ['a port as a string', { http: { port: '7300' } }, /: http\.port: /],
    ['a negative port', { http: { port: -1 } }, /: http\.port: /],
    ['a port over 65535', { http: { port: 65536 } }, /: http\.port: /],
    ['a fractional port', { http: { port: 80.5 } }, /: http\.port: /],
    ['an empty host', { http: { host: '' } }, /: http\.host: /],
    ['a public URL that is not a URL', { http: { publicUrl: 'node one' } }, /: http\.publicUrl: /],
    ['a tiny body limit', { http: { maxBodyBytes: 100 } }, /: http\.maxBodyBytes: /],
    ['zero identifiers per request', { http: { maxIdentifiersPerRequest: 0 } }, /: http\.maxIdentifiersPerRequest: /],
    ['an unknown http key', { http: { prot: 80 } }, /: http: .*"prot"/],
    ['an unknown top-level key', { loging: {} }, /\(top level\): .*"loging"/],
    ['another database driver', { database: { driver: 'mysql' } }, /: database\.driver: /],
    ['postgres without a URL', { database: { driver: 'postgres' } }, /: database\.url: the postgres driver needs a URL/],
    ['a database URL of another scheme', { database: { driver: 'postgres', url: 'mysql://u:hunter2@h/db' } }, /: database\.url: must start with postgres:\/\/ \(not mysql:\/\/\)$/],
    ['a database URL without a database', { database: { driver: 'postgres', url: 'postgres://u:hunter2@h:5432' } }, /: database\.url: names no database/],
    ['an empty database file', { database: { file: '' } }, /: database\.file: /],
    ['an empty key file', { keys: { signingKeyFile: '' } }, /: keys\.signingKeyFile: /],
    ['no tokens section', { tokens: undefined }, /: tokens: /],
    ['no epochs', { tokens: { epochs: [] } }, /: tokens\.epochs: /],
    ['epoch 0', epoch({ epoch: 0 }), /: tokens\.epochs\.0\.epoch: /],
    ['a short secret', epoch({ secret: 'abcd' }), /: tokens\.epochs\.0\.secret: /],
    ['a bad secretEnv name', epoch({ secretEnv: 'lower-case' }), /: tokens\.epochs\.0\.secretEnv: /],
    [
      'an epoch listed twice',
      {
        tokens: {
          epochs: [
            { epoch: 1, secret: SECRET },
            { epoch: 1, secret: SECRET },
          ],
        },
      },
      /: tokens\.epochs\[1\]\.epoch: /,
    ],
    ['an epoch with no secret', epoch({ secret: undefined }), /: tokens\.epochs\[0\]: needs "secret" or "secretEnv"/],
    ['a lower-case region', { identifiers: { defaultRegion: 'cn' } }, /: identifiers\.defaultRegion: /],
    ['a region the phone metadata does not know', { identifiers: { defaultRegion: 'ZZ' } }, /: identifiers\.defaultRegion: /],
    ['zero retention days', { listings: { permanentRetentionDays: 0 } }, /: listings\.permanentRetentionDays: /],
    ['a listing duration over 100 years', { listings: { maxListingDays: 36501 } }, /: listings\.maxListingDays: /],
    [
      'a listing duration shorter than the permanent retention',
      { listings: { permanentRetentionDays: 400, maxListingDays: 365 } },
      /: listings\.maxListingDays: must be at least permanentRetentionDays/,
    ],
    ['a watch rate of 0', { limits: { watch: { ratePerSecond: 0 } } }, /: limits\.watch\.ratePerSecond: /],
    ['a fractional watch burst', { limits: { watch: { burst: 1.5 } } }, /: limits\.watch\.burst: /],
    ['a check scope exempt from the watch limit', { limits: { watch: { exemptScopes: ['check'] } } }, /: limits\.watch\.exemptScopes\.0: /],
    ['an unknown log level', { logging: { level: 'loud' } }, /: logging\.level: /],
    ['a roster url without a trust root', { roster: { url: 'https://association.example/roster' } }, /: roster\.trustRoot: /],
    ['a sync page size of 0', { sync: { pageSize: 0 } }, /: sync\.pageSize: /],
    ['an unknown durability mode', { durability: { mode: 'remote' } }, /: durability\.mode: /],
    ['a witness timeout under 100 ms', { durability: { witnessTimeoutMs: 50 } }, /: durability\.witnessTimeoutMs: /],
    ['witnessed durability without a roster', { durability: { mode: 'witnessed' } }, /: durability\.mode: durability\.mode "witnessed" needs a roster/],
    ['a check rate of 0', { limits: { check: { ratePerSecond: 0 } } }, /: limits\.check\.ratePerSecond: /],
    ['a fractional check burst', { limits: { check: { burst: 2.5 } } }, /: limits\.check\.burst: /],
    ['an auditor scope exempt from the check limit', { limits: { check: { exemptScopes: ['auditor'] } } }, /: limits\.check\.exemptScopes\.0: /],
    ['zero concurrent peer requests', { limits: { peerConcurrency: 0 } }, /: limits\.peerConcurrency: /],
    ['a peer rate as a string', { limits: { peerRatePerSecond: '100' } }, /: limits\.peerRatePerSecond: /],
    ['an unknown limits key', { limits: { checks: {} } }, /: limits: .*"checks"/],
    ['a webhook url without a secret file', { events: { webhook: { url: 'https://platform.example/hooks' } } }, /: events\.webhook\.secretFile: secretFile is required/],
    ['a webhook url that is not a URL', { events: { webhook: { url: 'platform hooks', secretFile: 'w.secret' } } }, /: events\.webhook\.url: /],
    ['zero webhook attempts', { events: { webhook: { maxAttempts: 0 } } }, /: events\.webhook\.maxAttempts: /],
    ['zero event retention days', { events: { retentionDays: 0 } }, /: events\.retentionDays: /],
    ['a policy file that does not exist', { policy: { file: 'no-such-policy.json' } }, /no-such-policy\.json: file not found/],
    ['a categories file that does not exist', { categories: { file: 'cats.json' } }, /cats\.json: file not found/],
  ];
  it.each(cases)('%s', (_name, patch, message) => {
    const raw = { ...minimal(), ...patch };
    const err = errorOf(() => resolve(raw));
    expect(err.message).toMatch(/^config \S+jointban\.json: |^config \S+: /);
    expect(err.message).toMatch(message);
  });

  it('a policy file that is not a valid policy names the file', () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'policy.json'), JSON.stringify({ version: 2 }));
    const err = errorOf(() => resolveConfig(dir, join(dir, CONFIG_FILE_NAME), { ...minimal(), policy: { file: 'policy.json' } }, {}));
    expect(err.message).toMatch(/^config \S+policy\.json: /);
  });
});

describe('environment overrides', () => {
  it('apply to host, port, public URL and log level', () => {
    const config = resolve(minimal(), {
      JOINTBAN_HTTP_HOST: '0.0.0.0',
      JOINTBAN_HTTP_PORT: '8080',
      JOINTBAN_PUBLIC_URL: 'https://jb.alpha.example',
      JOINTBAN_LOG_LEVEL: 'debug',
    });
    expect(config.http).toMatchObject({ host: '0.0.0.0', port: 8080, publicUrl: 'https://jb.alpha.example' });
    expect(config.logLevel).toBe('debug');
  });

  it('win over the file', () => {
    expect(resolve({ ...minimal(), http: { port: 9000 } }, { JOINTBAN_HTTP_PORT: '9001' }).http.port).toBe(9001);
  });

  it.each([
    ['JOINTBAN_HTTP_PORT', 'abc', /JOINTBAN_HTTP_PORT="abc": must be a port number/],
    ['JOINTBAN_HTTP_PORT', '', /JOINTBAN_HTTP_PORT/],
    ['JOINTBAN_HTTP_PORT', '80 ', /JOINTBAN_HTTP_PORT/],
    ['JOINTBAN_HTTP_PORT', '99999', /http\.port: /],
    ['JOINTBAN_HTTP_HOST', '', /http\.host: /],
    ['JOINTBAN_PUBLIC_URL', 'not a url', /http\.publicUrl: /],
    ['JOINTBAN_LOG_LEVEL', 'verbose', /logging\.level: /],
  ])('%s=%j is an error', (name, value, message) => {
    expect(errorOf(() => resolve(minimal(), { [name]: value })).message).toMatch(message);
  });
});

describe('epoch secrets from the environment', () => {
  it('JOINTBAN_EPOCH_SECRET_<N> wins over the file', () => {
    const config = resolve(minimal(), { JOINTBAN_EPOCH_SECRET_1: OTHER_SECRET });
    expect(config.epochs[0]?.secret).toEqual(bytes(OTHER_SECRET));
  });

  it('secretEnv names the variable to read', () => {
    const config = resolve({ member: 'alpha', tokens: { epochs: [{ epoch: 7, secretEnv: 'MY_EPOCH_7' }] } }, { MY_EPOCH_7: SECRET });
    expect(config.epochs).toEqual([{ epoch: 7, secret: bytes(SECRET) }]);
  });

  it('a secretEnv variable that is not set is an error naming it', () => {
    const err = errorOf(() => resolve({ member: 'alpha', tokens: { epochs: [{ epoch: 7, secretEnv: 'MY_EPOCH_7' }] } }, {}));
    expect(err.message).toMatch(/tokens\.epochs\[0\]\.secretEnv: environment variable MY_EPOCH_7 is not set/);
  });

  it("an unset secretEnv variable is left out, not an error, for the commands that derive no token (epochSecrets: 'optional')", () => {
    const raw = {
      member: 'alpha',
      tokens: {
        epochs: [
          { epoch: 6, secret: SECRET },
          { epoch: 7, secretEnv: 'MY_EPOCH_7' },
        ],
      },
    };
    const dir = dataDir();
    const config = resolveConfig(dir, join(dir, CONFIG_FILE_NAME), raw, {}, { epochSecrets: 'optional' });
    expect(config.epochs).toEqual([{ epoch: 6, secret: bytes(SECRET) }]);
    expect(config.missingEpochSecrets).toEqual([7]);
    expect(config.secretInFile).toBe(true);
    // Required (the default): the same file is an error.
    expect(errorOf(() => resolveConfig(dir, join(dir, CONFIG_FILE_NAME), raw, {})).message).toMatch(/MY_EPOCH_7 is not set/);
    // A malformed secret that is there is an error either way.
    expect(errorOf(() => resolveConfig(dir, join(dir, CONFIG_FILE_NAME), raw, { MY_EPOCH_7: 'nothex' }, { epochSecrets: 'optional' })).message).toMatch(/MY_EPOCH_7: must be 64/);
  });

  it('the example file without JOINTBAN_EPOCH_SECRET_1 is an error naming it', () => {
    const example = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Raw;
    expect(errorOf(() => resolve(example, {})).message).toMatch(/JOINTBAN_EPOCH_SECRET_1 is not set/);
  });

  it('a malformed secret in the environment is an error naming the variable', () => {
    const err = errorOf(() => resolve(minimal(), { JOINTBAN_EPOCH_SECRET_1: OTHER_SECRET.toUpperCase() }));
    expect(err.message).toMatch(/JOINTBAN_EPOCH_SECRET_1: must be 64 lower-case hex characters/);
  });
});

describe('secrets never appear in error messages', () => {
  /** No 8-character run of the secret (either case) in the message. */
  function expectNoSecret(message: string, secret: string): void {
    for (let i = 0; i + 8 <= secret.length; i++) {
      expect(message.toLowerCase()).not.toContain(secret.slice(i, i + 8).toLowerCase());
    }
  }

  it.each([
    ['an upper-case secret in the file', { tokens: { epochs: [{ epoch: 1, secret: SECRET.toUpperCase() }] } }, {}],
    ['a secret one byte short', { tokens: { epochs: [{ epoch: 1, secret: SECRET.slice(2) }] } }, {}],
    ['a secret under a misspelt key', { tokens: { epochs: [{ epoch: 1, secret: SECRET, secretValue: SECRET }] } }, {}],
    ['a secret where a URL belongs', { http: { publicUrl: SECRET } }, {}],
    ['a malformed secret in the environment', {}, { JOINTBAN_EPOCH_SECRET_1: `${SECRET}00` }],
  ])('%s', (_name, patch, env: Env) => {
    expectNoSecret(errorOf(() => resolve({ ...minimal(), ...patch }, env)).message, SECRET);
  });

  it.each([
    ['a single-quoted secret', `{"member":"alpha","tokens":{"epochs":[{"epoch":1,"secret":'${SECRET}'}]}}`],
    ['an unquoted secret', `{"member":"alpha","tokens":{"epochs":[{"epoch":1,"secret":${SECRET}}]}}`],
    ['a trailing comma after the secret', `{"member":"alpha","tokens":{"epochs":[{"epoch":1,"secret":"${SECRET}",}]}}`],
  ])('a config file that is not JSON: %s', (_name, text) => {
    const dir = dataDir();
    writeFileSync(join(dir, CONFIG_FILE_NAME), text);
    const err = errorOf(() => loadConfig(dir, {}));
    expect(err.message).toMatch(/: not valid JSON/);
    expectNoSecret(err.message, SECRET);
  });
});

describe('initDataDir writes a config that loads', () => {
  it('keeps host and port when extra config sets other http keys', async () => {
    const dir = join(dataDir(), 'node');
    await initDataDir({ dataDir: dir, member: 'alpha', host: '127.0.0.2', port: 0, extra: { http: { maxBodyBytes: 2048 } } });
    expect(loadConfig(dir, {}).http).toMatchObject({ host: '127.0.0.2', port: 0, maxBodyBytes: 2048 });
  });
});
