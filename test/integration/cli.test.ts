/**
 * The `jointban` command as a user runs it: child processes on the built CLI, real data
 * directories, and a node opened in-process on the same directory where a test needs one running.
 * Every failure must be one `jointban: …` line on stderr and a non-zero exit.
 */
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { toHex } from '../../src/crypto/encoding.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import { openDatabase } from '../../src/store/database.js';
import { readKeyFile } from '../../src/store/key-file.js';
import { runCli, runCliJson, startCli, type CliResult } from '../helpers/cli.js';
import { queryRows } from '../helpers/db-query.js';
import { testEngine } from '../helpers/engine.js';
import { FUTURE_NATIONAL_ID, json, listingBody, phone, PHONE, PHONE_SPELLINGS, type CheckBody } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/test-node.js';

interface InitOutput {
  member: string;
  dataDir: string;
  publicKey: string;
  adminApiKey: string;
}

interface CreatedKey {
  id: string;
  key: string;
  scope: string;
  name: string;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let dataDir: string;
let init: InitOutput;

beforeEach(async () => {
  const parent = tempDir();
  cleanup.push(() => rmSync(parent, { recursive: true, force: true }));
  dataDir = join(parent, 'node');
  init = await runCliJson<InitOutput>(['init', '--data-dir', dataDir, '--member', 'alpha', '--port', '0']);
});

/** A node opened in-process on the CLI's data directory, stopped after the test. */
async function openNode(): Promise<{ call: (method: string, path: string, key: string, body?: unknown) => Promise<Response>; stop: () => Promise<void> }> {
  const node = await createNode(loadConfig(dataDir, {}), { logger: createLogger('silent') });
  const url = await node.listen();
  let stopped = false;
  const stop = async () => {
    if (!stopped) await node.stop();
    stopped = true;
  };
  cleanup.push(stop);
  const call = (method: string, path: string, key: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  return { call, stop };
}

function expectOneLineError(result: CliResult, message: RegExp): void {
  expect(result.code).not.toBe(0);
  expect(result.code).not.toBeNull();
  expect(result.stderr).toMatch(/^jointban: [^\n]+\n$/);
  expect(result.stderr).toMatch(message);
  expect(result.stdout).toBe('');
}

const mode = (file: string) => statSync(file).mode & 0o777;

describe('jointban init', () => {
  it('writes the config and key (mode 0600) and the database, and prints member, public key and admin key', async () => {
    expect(init).toMatchObject({ member: 'alpha', dataDir, publicKey: expect.stringMatching(/^[0-9a-f]{64}$/) as string });
    expect(init.adminApiKey).toMatch(/^jb_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}$/);
    expect(mode(join(dataDir, 'jointban.json'))).toBe(0o600);
    expect(mode(join(dataDir, 'keys', 'node.key'))).toBe(0o600);
    expect(toHex(readKeyFile(join(dataDir, 'keys', 'node.key')).publicKey)).toBe(init.publicKey);
    const config = JSON.parse(readFileSync(join(dataDir, 'jointban.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ member: 'alpha', http: { host: '127.0.0.1', port: 0 } });
    // The database: a SQLite file beside the config, or on a PostgreSQL run (--database-url, which
    // runCli adds) the config names the server and the data directory holds no database file.
    if (testEngine() === 'postgres') {
      expect(config).toMatchObject({ database: { driver: 'postgres', url: expect.stringMatching(/^postgres:\/\//) as string } });
      expect(existsSync(join(dataDir, 'jointban.db'))).toBe(false);
    } else {
      expect(statSync(join(dataDir, 'jointban.db')).isFile()).toBe(true);
    }
    // The admin key is stored hashed: its secret is nowhere in the database.
    const database = await openDatabase({ ...loadConfig(dataDir, {}).database, readonly: true });
    try {
      const stored = await queryRows<{ key_hash: Uint8Array }>(database, 'SELECT key_hash FROM api_keys');
      expect(stored).toHaveLength(1);
      expect(Buffer.from(stored[0]!.key_hash).includes(Buffer.from(init.adminApiKey.slice(16)))).toBe(false);
    } finally {
      await database.close();
    }
    if (testEngine() === 'sqlite') expect(readFileSync(join(dataDir, 'jointban.db')).includes(Buffer.from(init.adminApiKey.slice(16)))).toBe(false);
  });

  it('again on the same directory → one-line error, nothing overwritten', async () => {
    const before = readFileSync(join(dataDir, 'jointban.json'), 'utf8');
    expectOneLineError(await runCli(['init', '--data-dir', dataDir, '--member', 'beta']), /already initialised/);
    expect(readFileSync(join(dataDir, 'jointban.json'), 'utf8')).toBe(before);
  });

  it.each([
    ['a bad member id', ['--member', 'Not Valid'], /--member/],
    ['a bad role', ['--member', 'beta', '--role', 'king'], /--role/],
  ])('%s → one-line error', async (_name, args, message) => {
    expectOneLineError(await runCli(['init', '--data-dir', join(dataDir, 'other'), ...args]), message);
  });

  it('a bad --port → non-zero exit naming the option', async () => {
    const result = await runCli(['init', '--data-dir', join(dataDir, 'other'), '--member', 'beta', '--port', 'abc']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/--port/);
  });
});

describe('jointban apikey', () => {
  it('create --scope check prints a key that works against a running node, with its scope only', async () => {
    const node = await openNode();
    const created = await runCliJson<CreatedKey>(['apikey', 'create', '--data-dir', dataDir, '--scope', 'check', '--name', 'signup service']);
    expect(created).toMatchObject({ scope: 'check', name: 'signup service' });
    expect((await node.call('POST', '/v1/check', created.key, { identifiers: [phone()] })).status).toBe(200);
    expect((await node.call('POST', '/v1/listings', created.key, listingBody())).status).toBe(403);
  });

  it('list shows ids, names and scopes and never a secret', async () => {
    const created = await runCliJson<CreatedKey>(['apikey', 'create', '--data-dir', dataDir, '--scope', 'write']);
    const result = await runCli(['apikey', 'list', '--data-dir', dataDir]);
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r['name'], r['scope']])).toEqual([
      ['initial admin key', 'admin'],
      ['unnamed', 'write'],
    ]);
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(['created_at', 'id', 'last_used_at', 'name', 'revoked_at', 'scope']);
    for (const key of [created.key, init.adminApiKey]) {
      expect(result.stdout).not.toContain(key);
      expect(result.stdout).not.toContain(key.slice(16));
    }
  });

  it('revoke makes the key fail with 401 and shows in list; revoking again is an error', async () => {
    const node = await openNode();
    const created = await runCliJson<CreatedKey>(['apikey', 'create', '--data-dir', dataDir, '--scope', 'check']);
    expect((await node.call('POST', '/v1/check', created.key, { identifiers: [phone()] })).status).toBe(200);
    expect(await runCliJson(['apikey', 'revoke', '--data-dir', dataDir, created.id])).toEqual({ revoked: created.id });
    expect((await node.call('POST', '/v1/check', created.key, { identifiers: [phone()] })).status).toBe(401);
    const rows = await runCliJson<{ id: string; revoked_at: string | null }[]>(['apikey', 'list', '--data-dir', dataDir]);
    expect(rows.find((r) => r.id === created.id)?.revoked_at).toEqual(expect.any(String));
    expectOneLineError(await runCli(['apikey', 'revoke', '--data-dir', dataDir, created.id]), /no active API key/);
  });

  it.each([['superuser'], ['']])('create with a bad --scope %j → one-line error, no key made', async (scope) => {
    expectOneLineError(await runCli(['apikey', 'create', '--data-dir', dataDir, '--scope', scope]), /--scope/);
    expect(await runCliJson<unknown[]>(['apikey', 'list', '--data-dir', dataDir])).toHaveLength(1);
  });
});

describe('jointban check', () => {
  it('prints the same decision as POST /v1/check, for every spelling and purpose', async () => {
    const node = await openNode();
    const listing = listingBody({ banUntil: new Date(Date.now() + 30 * 86_400_000).toISOString() });
    expect((await node.call('POST', '/v1/listings', init.adminApiKey, listing)).status).toBe(201);
    const api = async (purpose: string) => json<CheckBody>(await node.call('POST', '/v1/check', init.adminApiKey, { identifiers: [phone()], purpose }));
    const expected = { registration: await api('registration'), monetization: await api('monetization') };
    expect(expected.registration.decision).toBe('deny');
    await node.stop();

    for (const spelling of [PHONE, PHONE_SPELLINGS[0]]) {
      expect(await runCliJson(['check', '--data-dir', dataDir, '--phone', spelling])).toEqual(expected.registration);
    }
    const monetization = await runCliJson(['check', '--data-dir', dataDir, '--phone', PHONE, '--purpose', 'monetization']);
    expect(monetization).toEqual(expected.monetization);
  });

  it('no match → allow', async () => {
    expect(await runCliJson(['check', '--data-dir', dataDir, '--email', 'someone@example.com'])).toEqual({
      decision: 'allow',
      purpose: 'registration',
      matches: [],
      penalties: [],
      rules: [],
    });
  });

  it.each([
    ['an invalid phone', ['--phone', '12345'], /^jointban: identifiers\[0\] \(phone\): /],
    ['a national ID born in the future', ['--national-id', FUTURE_NATIONAL_ID], /^jointban: identifiers\[0\] \(national_id\): birth date is in the future$/m],
    ['no identifier', [], /at least one identifier/],
    ['a bad --purpose', ['--phone', PHONE, '--purpose', 'advertising'], /--purpose/],
    ['a data directory that was never initialised', ['--data-dir', '/nonexistent/jointban', '--phone', PHONE], /file not found/],
  ])('%s → one-line error', async (_name, args, message) => {
    const dirArgs = args.includes('--data-dir') ? [] : ['--data-dir', dataDir];
    const result = await runCli(['check', ...dirArgs, ...args]);
    expectOneLineError(result, message);
    expect(result.stderr).not.toContain('12345');
    expect(result.stderr).not.toContain(FUTURE_NATIONAL_ID);
  });
});

describe('jointban start', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('serves /healthz and exits 0 on %s', async (signal) => {
    const running = await startCli(['--data-dir', dataDir]);
    cleanup.push(() => {
      if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    });
    const health = await fetch(`${running.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', member: 'alpha' });
    running.child.kill(signal);
    const result = await running.done;
    expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(result.stdout).toContain('"msg":"node stopped"');
    // The log is written asynchronously (logging.ts): the access log line of the request and the
    // last line before exit both arrive.
    expect(result.stdout).toMatch(/"route":"\/healthz","status":200/);
  });

  it('a config value of the wrong type → one-line error naming the key', async () => {
    const file = join(dataDir, 'jointban.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as { http: Record<string, unknown> };
    config.http['port'] = 'abc';
    writeFileSync(file, JSON.stringify(config));
    expectOneLineError(await runCli(['start', '--data-dir', dataDir]), /http\.port: /);
  });

  it.each([
    ['JOINTBAN_HTTP_PORT', 'abc', /JOINTBAN_HTTP_PORT/],
    ['JOINTBAN_HTTP_PORT', '70000', /http\.port/],
    ['JOINTBAN_LOG_LEVEL', 'loud', /logging\.level/],
  ])('%s=%s in the environment → one-line error naming it', async (name, value, message) => {
    expectOneLineError(await runCli(['start', '--data-dir', dataDir], { [name]: value }), message);
  });

  it('a key file readable by others → one-line error', async () => {
    chmodSync(join(dataDir, 'keys', 'node.key'), 0o644);
    expectOneLineError(await runCli(['start', '--data-dir', dataDir]), /chmod 600/);
  });
});
