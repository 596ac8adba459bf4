/**
 * No raw identifier is kept: after listing, checking and watching distinctive values of every type
 * (in several spellings, one of them rejected), through the API and the CLI, none of them, nor any of
 * their normalised forms, appears in any file of the data directory (the SQLite database with its
 * -wal and -shm files, the config, the key) in UTF-8 or UTF-16LE, nor in the captured logs.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/store/database.js';
import { runCli } from '../helpers/cli.js';
import { queryRows } from '../helpers/db-query.js';
import { testEngine } from '../helpers/engine.js';
import { json, listingBody, type CheckBody, type CreatedListingBody, type Identifier } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

/** Raw values as platforms send them, each type in more than one spelling. */
const LISTED: Identifier[] = [
  { type: 'phone', value: '+86 139-1234-5678' },
  { type: 'phone', value: '0086 139 1234 5678' },
  { type: 'email', value: 'Zhang.Wei.Banned@Example.ORG' },
  { type: 'email', value: 'Some.One.Banned+promo@GoogleMail.com' },
  { type: 'national_id', value: '320582198511076545' },
  { type: 'national_id', value: '320582851107654' },
  { type: 'device_id', value: 'F47AC10B-58CC-4372-A567-0E02B2C3D479' },
  { type: 'device_id', value: '490154203237518' },
  { type: 'payment_account', value: 'wechatpay:oWx8Zq_ExampleOpenId42' },
];
/** Other spellings used only to check. */
const CHECKED: Identifier[] = [
  { type: 'phone', value: '139 1234 5678' },
  { type: 'email', value: ' zhang.wei.banned@EXAMPLE.org ' },
  { type: 'national_id', value: '3205 8219 8511 0765 45' },
  { type: 'device_id', value: '{f47ac10b-58cc-4372-a567-0e02b2c3d479}' },
];
/** Rejected by normalisation (a landline, a wrong check character): must not be kept either. */
const REJECTED: Identifier[] = [
  { type: 'phone', value: '+86 10 6552 9988' },
  { type: 'national_id', value: '320582198511076541' },
];

/** Every form that must not appear: raw spellings, normalised forms and their distinctive cores. */
const NEEDLES = [
  ...[...LISTED, ...CHECKED, ...REJECTED].map((id) => id.value.trim()),
  '+8613912345678',
  '8613912345678',
  '13912345678',
  'zhang.wei.banned@example.org',
  'zhang.wei.banned',
  'someonebanned@gmail.com',
  'Some.One.Banned',
  '32058219851107654',
  'f47ac10b-58cc-4372-a567-0e02b2c3d479',
  'F47AC10B-58CC-4372-A567-0E02B2C3D479',
  '49015420323751',
  'oWx8Zq_ExampleOpenId42',
  '1065529988',
  '65529988',
  '320582198511076541',
];

interface Finding {
  where: string;
  needle: string;
  encoding: 'utf8' | 'utf16le';
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

function scanBytes(where: string, bytes: Buffer): Finding[] {
  const found: Finding[] = [];
  for (const needle of NEEDLES) {
    for (const encoding of ['utf8', 'utf16le'] as const) {
      if (bytes.includes(Buffer.from(needle, encoding))) found.push({ where, needle, encoding });
    }
  }
  return found;
}

/** Scans every file under dir; returns what it found and which files it read. */
function scanDir(dir: string): { files: string[]; found: Finding[] } {
  const files = filesUnder(dir);
  return { files: files.map((f) => relative(dir, f)), found: files.flatMap((f) => scanBytes(relative(dir, f), readFileSync(f))) };
}

/**
 * On a PostgreSQL run the data directory holds no database: scan the server's files of the node's
 * database (heap, indexes, TOAST) and the write-ahead log, after a checkpoint has written every
 * page out, as the SQLite file and its WAL are scanned on SQLite.
 */
async function scanPostgres(database: DatabaseHandle): Promise<{ files: number; found: Finding[] }> {
  await sql`CHECKPOINT`.execute(database.db);
  const [row] = await queryRows<{ dir: string; oid: number }>(database, "SELECT current_setting('data_directory') AS dir, oid FROM pg_database WHERE datname = current_database()");
  const files = [...filesUnder(join(row!.dir, 'base', String(row!.oid))), ...filesUnder(join(row!.dir, 'pg_wal')).filter((f) => !f.includes('archive_status'))];
  return { files: files.length, found: files.flatMap((f) => scanBytes(f, readFileSync(f))) };
}

/** The files a node keeps in its data directory on this run's engine, stopped or running. */
function expectedFiles(running: boolean): string[] {
  const keys = ['jointban.json', join('keys', 'node.key')];
  if (testEngine() === 'postgres') return keys;
  return [...keys, 'jointban.db', ...(running ? ['jointban.db-wal', 'jointban.db-shm'] : [])];
}

let t: TestNode;
afterEach(() => t.stop());

describe('raw identifiers are never stored or logged', () => {
  it('after listing, checking and watching through the API and the CLI', async () => {
    t = await createTestNode();
    const write = await t.key('write');
    const checker = await t.key('check');
    const post = async (path: string, key: string, body: unknown) => t.request('POST', path, { key, body });

    // Listing: one listing per spelling, one with all of them, and two rejected requests.
    const tokens: CreatedListingBody['tokens'] = [];
    for (const id of LISTED) {
      const res = await post('/v1/listings', write, listingBody({ identifiers: [id] }));
      expect(res.status).toBe(201);
      tokens.push(...(await json<CreatedListingBody>(res)).tokens);
    }
    expect((await post('/v1/listings', write, listingBody({ identifiers: LISTED }))).status).toBe(201);
    for (const bad of REJECTED) {
      const res = await post('/v1/listings', write, listingBody({ identifiers: [LISTED[0]!, bad] }));
      expect(res.status).toBe(400);
      expect(await res.text()).not.toContain(bad.value);
    }

    // Checking: every spelling, the tokens form, a rejected value, and a retraction in between.
    for (const id of [...LISTED, ...CHECKED]) {
      expect((await json<CheckBody>(await post('/v1/check', checker, { identifiers: [id] }))).decision).not.toBe('allow');
    }
    expect((await json<CheckBody>(await post('/v1/check', checker, { tokens }))).decision).toBe('deny');
    for (const bad of REJECTED) expect((await post('/v1/check', checker, { identifiers: [bad] })).status).toBe(400);
    // Watching existing accounts: every spelling, then a batch with a rejected value (written nowhere).
    const watch = [...LISTED, ...CHECKED].map((id, i) => ({ reference: `acct-${i}`, identifiers: [id] }));
    const put = await t.request('PUT', '/v1/watch', { key: write, body: { watch } });
    expect(put.status).toBe(200);
    expect((await json<{ events: number }>(put)).events).toBeGreaterThan(0);
    for (const bad of REJECTED) {
      const res = await t.request('PUT', '/v1/watch', { key: write, body: { watch: [{ reference: 'acct-x', identifiers: [LISTED[0]!, bad] }] } });
      expect(res.status).toBe(400);
      expect(await res.text()).not.toContain(bad.value);
    }
    expect((await post('/v1/listings/alpha:1/retract', write, { reason: 'appeal_upheld' })).status).toBe(200);
    const events = await t.request('GET', '/v1/events?limit=1000', { key: write });
    expect(events.status).toBe(200);
    const eventsText = await events.text();
    expect(eventsText).toContain('"kind":"lift"');
    expect(scanBytes('events feed', Buffer.from(eventsText))).toEqual([]);

    // While the node runs, the write-ahead log holds the latest pages: scan it too.
    const running = scanDir(t.dataDir);
    expect(running.files).toEqual(expect.arrayContaining(expectedFiles(true)));
    expect(running.found).toEqual([]);
    if (testEngine() === 'postgres') {
      const server = await scanPostgres(t.node.database);
      expect(server.files).toBeGreaterThan(0);
      expect(server.found).toEqual([]);
    }
    await t.close();

    // The CLI on the same data directory: a match, and a rejected value.
    const cli = await runCli(['check', '--data-dir', t.dataDir, '--phone', CHECKED[0]!.value, '--email', LISTED[2]!.value, '--national-id', LISTED[5]!.value]);
    expect(cli.code).toBe(0);
    expect((JSON.parse(cli.stdout) as CheckBody).decision).toBe('deny');
    expect(scanBytes('cli stdout', Buffer.from(cli.stdout))).toEqual([]);
    const rejected = await runCli(['check', '--data-dir', t.dataDir, '--phone', REJECTED[0]!.value]);
    expect(rejected.code).not.toBe(0);
    expect(scanBytes('cli stderr', Buffer.from(rejected.stderr))).toEqual([]);

    const stopped = scanDir(t.dataDir);
    expect(stopped.files).toEqual(expect.arrayContaining(expectedFiles(false)));
    expect(stopped.found).toEqual([]);
    expect(t.logs()).toContain('"route":"/v1/check"');
    expect(scanBytes('captured logs', Buffer.from(t.logs()))).toEqual([]);
  });
});

describe('the scanner finds what it looks for', () => {
  it('in UTF-8 and UTF-16LE, in a nested file of the data directory, and in log text', async () => {
    t = await createTestNode({ listen: false });
    await t.close();
    mkdirSync(join(t.dataDir, 'nested', 'deeper'), { recursive: true });
    writeFileSync(join(t.dataDir, 'nested', 'deeper', 'scratch.bin'), Buffer.concat([Buffer.from('xx+8613912345678xx', 'utf8'), Buffer.from('oWx8Zq_ExampleOpenId42', 'utf16le')]));
    const { found } = scanDir(t.dataDir);
    const where = join('nested', 'deeper', 'scratch.bin');
    expect(found).toContainEqual({ where, needle: '+8613912345678', encoding: 'utf8' });
    expect(found).toContainEqual({ where, needle: 'oWx8Zq_ExampleOpenId42', encoding: 'utf16le' });
    expect(found.every((f) => f.where === where)).toBe(true);
    expect(scanBytes('log', Buffer.from('{"msg":"zhang.wei.banned@example.org"}'))).toHaveLength(2);
  });

  it("in a row of the node's database, on either engine", async () => {
    t = await createTestNode({ listen: false });
    await sql`INSERT INTO node_meta (key, value) VALUES ('scratch', 'xx+8613912345678xx')`.execute(t.node.database.db);
    const { found } = testEngine() === 'postgres' ? await scanPostgres(t.node.database) : scanDir(t.dataDir);
    expect(found.map((f) => [f.needle, f.encoding])).toContainEqual(['+8613912345678', 'utf8']);
  });
});
