/**
 * `jointban backup` and `jointban restore` with the real CLI against a real node: a backup taken
 * while the node keeps listing, restored into a fresh data directory (its jointban.json and keys/
 * copied from the original, as an operator restores them from their own backup) and served by a
 * new node. Then every way a restore must refuse: a tampered backup (caught by the checksum; by the
 * manifest's signature when the manifest was rewritten to match, an admin API key added, say; or by
 * the log verification when whoever holds the node's key re-signed it), a damaged or garbage file,
 * an existing database, a running node; and the secrets a backup must never contain.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyDataDir } from '../../src/cli/verify.js';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { toHex } from '../../src/crypto/encoding.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import type { BackupManifest } from '../../src/store/backup.js';
import { signManifest } from '../../src/store/backup-signature.js';
import { RESTORE_PENDING_FILE } from '../../src/store/restore.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { json, listingBody, paymentAccount, type CheckBody, type CreatedListingBody, type Identifier } from '../helpers/fixtures.js';
import { createTestNode, tempDir, TEST_EPOCH_SECRET, type TestNode } from '../helpers/test-node.js';

interface Acknowledged {
  id: string;
  identifiers: Identifier[];
  retracted: boolean;
}

let source: TestNode;
let writeKey: string;
let work: string;
let backupFile: string;
let backupRun: CliResult;
/** Listings that had their 201 (and the retraction its 200) before the backup command started. */
const before: Acknowledged[] = [];
/** Listings acknowledged while the backup ran: each may or may not be in it. */
let during = 0;

const ids = (label: string): Identifier[] => [paymentAccount(`alipay:backup-${label}`)];
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function list(label: string): Promise<Acknowledged> {
  const identifiers = ids(label);
  const res = await source.request('POST', '/v1/listings', { key: writeKey, body: listingBody({ identifiers }) });
  if (res.status !== 201) throw new Error(`listing ${label}: HTTP ${res.status} ${await res.text()}`);
  return { id: (await json<CreatedListingBody>(res)).id, identifiers, retracted: false };
}

/** A data directory with the source's config and keys but no database, as a restore starts from. */
function freshDataDir(label: string): string {
  const dir = join(work, label);
  mkdirSync(dir, { mode: 0o700 });
  cpSync(join(source.dataDir, CONFIG_FILE_NAME), join(dir, CONFIG_FILE_NAME));
  cpSync(join(source.dataDir, 'keys'), join(dir, 'keys'), { recursive: true });
  return dir;
}

/** A copy of the backup and its manifest under another name, to damage. */
function copyBackup(label: string): string {
  const file = join(work, `${label}.db`);
  cpSync(backupFile, file);
  cpSync(`${backupFile}.json`, `${file}.json`);
  return file;
}

/**
 * Rewrites the manifest's size and checksum to match the file, as someone who tampered would; with
 * `resign`, signs it again with the node's own key, as only someone holding that key could.
 */
function rehash(file: string, resign = false): void {
  const manifest = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as BackupManifest;
  const bytes = readFileSync(file);
  manifest.database = { bytes: bytes.length, sha256: sha256(bytes) };
  writeFileSync(`${file}.json`, JSON.stringify(resign ? signManifest(manifest, source.node.identity) : manifest));
}

/** Changes one byte of the token in entry `seq` of alpha's log, inside the backup file. */
function flipEntryByte(file: string, seq: number): void {
  const db = new SQLite(file);
  try {
    const row = db.prepare("SELECT bytes FROM log_entries WHERE origin = 'alpha' AND seq = ?").get(seq) as { bytes: Buffer };
    const bytes = Buffer.from(row.bytes);
    const at = bytes.indexOf('"token":"') + '"token":"'.length;
    bytes[at] = bytes[at]! ^ 0x01;
    db.prepare("UPDATE log_entries SET bytes = ? WHERE origin = 'alpha' AND seq = ?").run(bytes, seq);
  } finally {
    db.close();
  }
}

const restore = (from: string, dataDir: string, ...more: string[]) => runCli(['restore', '--from', from, '--data-dir', dataDir, ...more]);

function expectOneLineError(result: CliResult, pattern: RegExp): void {
  expect(result.code, result.stdout + result.stderr).toBe(1);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^jointban: /);
  expect(lines[0]).toMatch(pattern);
}

beforeAll(async () => {
  source = await createTestNode({ member: 'alpha', extra: { checkpoints: { intervalMs: 50 }, logging: { level: 'silent' } } });
  writeKey = await source.key('write');
  work = tempDir('jointban-backup-test-');
  backupFile = join(work, 'alpha.db');
  for (let i = 0; i < 12; i++) before.push(await list(`before-${i}`));
  const retracted = before[3]!;
  const res = await source.request('POST', `/v1/listings/${retracted.id}/retract`, { key: writeKey, body: { reason: 'appeal_upheld' } });
  if (res.status !== 200) throw new Error(`retract: HTTP ${res.status}`);
  retracted.retracted = true;

  // The node keeps taking listings, one after another, for as long as the backup command runs.
  let running = true;
  const writer = (async () => {
    while (running) {
      await list(`during-${during}`);
      during++;
    }
  })();
  try {
    backupRun = await runCli(['backup', '--data-dir', source.dataDir, '--to', backupFile]);
  } finally {
    running = false;
    await writer;
  }
  if (backupRun.code !== 0) throw new Error(`backup exited ${String(backupRun.code)}: ${backupRun.stderr}`);
}, 120_000);

afterAll(async () => {
  await source?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a backup of a running node, restored into a fresh data directory', () => {
  it('restores, verifies, and a node started there serves every listing acknowledged before the backup began', async () => {
    const dir = freshDataDir('restored');
    const result = await restore(backupFile, dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^alpha\s+OK\b/m);
    expect(result.stdout).toContain('the node may start');
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(false);

    const node = await createNode(loadConfig(dir, {}), { logger: createLogger('silent') });
    try {
      const url = await node.listen();
      // API keys are data: the source's admin key works on the restored node.
      const call = async (method: string, path: string, body?: unknown) =>
        fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${source.adminKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
      for (const listing of before) {
        const res = await call('GET', `/v1/listings/${listing.id}`);
        expect(res.status, listing.id).toBe(200);
        expect(await res.json()).toMatchObject({ id: listing.id, status: listing.retracted ? 'retracted' : 'active' });
        const check = await json<CheckBody>(await call('POST', '/v1/check', { identifiers: listing.identifiers }));
        expect(check.decision, listing.id).toBe(listing.retracted ? 'allow' : 'deny');
      }
    } finally {
      await node.stop();
    }

    const { results } = await verifyDataDir(dir);
    expect(results.map((r) => ({ origin: r.origin, ok: r.ok }))).toEqual([{ origin: 'alpha', ok: true }]);
    // Twelve listings and a retraction were acknowledged before; whatever came during is extra.
    expect(results[0]!.entries).toBeGreaterThanOrEqual(before.length + 1);
    expect(results[0]!.entries).toBeLessThanOrEqual(before.length + 1 + during);
  });

  it("is a consistent snapshot: its log is a prefix of the running node's, and its listings match its log", async () => {
    const manifest = JSON.parse(readFileSync(`${backupFile}.json`, 'utf8')) as BackupManifest;
    expect(manifest).toMatchObject({ format: 'jointban-backup', version: 2, member: 'alpha', role: 'member', rosterVersion: null });
    expect(manifest.signature?.publicKey).toBe(toHex(source.node.identity.publicKey));
    const size = manifest.logs.find((l) => l.origin === 'alpha')?.size ?? 0;
    expect(size).toBeGreaterThanOrEqual(before.length + 1);
    const copy = new SQLite(backupFile, { readonly: true });
    try {
      const backedUp = copy.prepare("SELECT seq, bytes FROM log_entries WHERE origin = 'alpha' ORDER BY seq").all() as { seq: number; bytes: Buffer }[];
      expect(backedUp.map((r) => r.seq)).toEqual(Array.from({ length: size }, (_, i) => i + 1));
      const live = await source.node.database.db.selectFrom('log_entries').select(['seq', 'bytes']).where('origin', '=', 'alpha').where('seq', '<=', size).orderBy('seq').execute();
      expect(live.map((r) => sha256(r.bytes))).toEqual(backedUp.map((r) => sha256(r.bytes)));
      const listings = copy.prepare("SELECT COUNT(*) AS n FROM listings WHERE origin = 'alpha'").get() as { n: number };
      const listingEntries = copy.prepare("SELECT COUNT(*) AS n FROM log_entries WHERE origin = 'alpha' AND kind = 'listing'").get() as { n: number };
      expect(listings.n).toBe(listingEntries.n);
      expect(manifest.listings).toBe(listings.n);
    } finally {
      copy.close();
    }
    expect(manifest.database).toEqual({ bytes: readFileSync(backupFile).length, sha256: sha256(readFileSync(backupFile)) });
  });

  it('holds neither the epoch secret nor the signing key, is readable by its owner only, and says what it leaves out', () => {
    const secretKey = source.node.identity.secretKey;
    for (const file of [backupFile, `${backupFile}.json`]) {
      const bytes = readFileSync(file);
      for (const secret of [TEST_EPOCH_SECRET, secretKey]) {
        expect(bytes.indexOf(Buffer.from(secret)), file).toBe(-1);
        expect(bytes.indexOf(Buffer.from(toHex(secret))), file).toBe(-1);
        expect(bytes.indexOf(Buffer.from(toHex(secret).toUpperCase())), file).toBe(-1);
      }
      expect(bytes.indexOf(Buffer.from(source.adminKey)), file).toBe(-1);
    }
    expect(readFileSync(join(source.dataDir, CONFIG_FILE_NAME), 'utf8')).toContain(toHex(TEST_EPOCH_SECRET));
    expect(statSync(backupFile).mode & 0o077).toBe(0);
    expect(backupRun.stderr).toMatch(/jointban\.json.*keys\//);
    expect(existsSync(`${backupFile}-wal`) || existsSync(`${backupFile}-journal`)).toBe(false);
  });
});

describe('a tampered backup', () => {
  it('with its manifest left alone: refused as damaged, and nothing is written', async () => {
    const file = copyBackup('tampered-only');
    flipEntryByte(file, 3);
    const dir = freshDataDir('tampered-only');
    expectOneLineError(await restore(file, dir), /damaged or incomplete/);
    expect(existsSync(join(dir, 'jointban.db'))).toBe(false);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(false);
  });

  it('with a manifest rewritten to match: refused by the manifest signature, and nothing is written', async () => {
    const file = copyBackup('tampered-unsigned');
    flipEntryByte(file, 3);
    rehash(file);
    const dir = freshDataDir('tampered-unsigned');
    expectOneLineError(await restore(file, dir), /tampered-unsigned\.db\.json: the signature does not verify with the key in .*node\.key .*nothing was restored/);
    expect(existsSync(join(dir, 'jointban.db'))).toBe(false);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(false);
  });

  it('with an admin API key added and the hash updated: refused by the manifest signature, the key never usable', async () => {
    const file = copyBackup('extra-admin');
    const db = new SQLite(file);
    try {
      const row = db.prepare("SELECT * FROM api_keys WHERE scope = 'admin' LIMIT 1").get() as Record<string, unknown>;
      const columns = Object.keys(row);
      const copy = { ...row, id: 'planted', key_hash: Buffer.alloc(32, 7), name: 'planted' } as Record<string, unknown>;
      db.prepare(`INSERT INTO api_keys (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`).run(...columns.map((c) => copy[c]));
    } finally {
      db.close();
    }
    rehash(file);
    const dir = freshDataDir('extra-admin');
    expectOneLineError(await restore(file, dir), /the signature does not verify/);
    expect(existsSync(join(dir, 'jointban.db'))).toBe(false);
  });

  it('with a manifest rewritten to match and re-signed with the node key: the verification fails, the marker stays and no node starts there', async () => {
    const file = copyBackup('tampered-rehashed');
    flipEntryByte(file, 3);
    rehash(file, true);
    const dir = freshDataDir('tampered-rehashed');
    const result = await restore(file, dir);
    expectOneLineError(result, /restore did not verify \(verification failed for alpha\).*RESTORE_PENDING stays/);
    expect(result.stdout).toMatch(/^alpha\s+FAILED\b/m);
    expect(result.stdout).toMatch(/leaf_hash_mismatch at index 2/);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(true);

    await expect(createNode(loadConfig(dir, {}), { logger: createLogger('silent') })).rejects.toThrow(/restore did not finish verifying: run jointban restore again/);
    expectOneLineError(await runCli(['start', '--data-dir', dir]), /restore did not finish verifying: run jointban restore again/);

    // Restoring the intact backup over the unfinished restore needs no --force, and clears the marker.
    const again = await restore(backupFile, dir);
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(false);
  });
});

describe('a version 1 manifest (made before manifests were signed)', () => {
  it('is refused without --allow-unsigned-manifest, and restored with it, saying it is unsigned', async () => {
    const file = copyBackup('version-1');
    const manifest = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as Record<string, unknown>;
    delete manifest['signature'];
    manifest['version'] = 1;
    writeFileSync(`${file}.json`, JSON.stringify(manifest));
    const dir = freshDataDir('version-1');
    expectOneLineError(await restore(file, dir), /a version 1 manifest carries no signature.*--allow-unsigned-manifest/);
    expect(existsSync(join(dir, 'jointban.db'))).toBe(false);
    const allowed = await restore(file, dir, '--allow-unsigned-manifest');
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(/^warning: the manifest is a version 1 manifest and carries no signature/m);
    // A version 2 manifest without its signature is never accepted, flag or not.
    manifest['version'] = 2;
    writeFileSync(`${file}.json`, JSON.stringify(manifest));
    expectOneLineError(await restore(file, freshDataDir('version-2-unsigned'), '--allow-unsigned-manifest'), /the manifest carries no signature/);
  });
});

describe('a damaged backup file', () => {
  it('truncated: one line, nothing written', async () => {
    const file = copyBackup('truncated');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const dir = freshDataDir('truncated');
    expectOneLineError(await restore(file, dir), /damaged or incomplete/);
    expect(existsSync(join(dir, 'jointban.db'))).toBe(false);
  });

  it('garbage with a matching manifest: not a usable SQLite database', async () => {
    const file = copyBackup('garbage');
    writeFileSync(file, randomBytes(64 * 1024));
    rehash(file);
    const dir = freshDataDir('garbage');
    expectOneLineError(await restore(file, dir), /not a usable SQLite database|database is damaged/);
    expect(existsSync(join(dir, 'jointban.db'))).toBe(false);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(false);
  });

  it('without its manifest, or with one that is not JSON', async () => {
    const dir = freshDataDir('manifests');
    const bare = copyBackup('bare');
    rmSync(`${bare}.json`);
    expectOneLineError(await restore(bare, dir), /bare\.db\.json: not found/);
    const garbled = copyBackup('garbled');
    writeFileSync(`${garbled}.json`, '{"format": "jointban-backup", ');
    expectOneLineError(await restore(garbled, dir), /not a jointban backup manifest/);
    expectOneLineError(await restore(join(work, 'missing.db'), dir), /no such backup file/);
  });
});

describe('restoring where it must not', () => {
  it('onto an existing database without --force: refused, the database untouched', async () => {
    const dir = freshDataDir('existing');
    expect((await restore(backupFile, dir)).code).toBe(0);
    const db = join(dir, 'jointban.db');
    const before = sha256(readFileSync(db));
    expectOneLineError(await restore(backupFile, dir), /already exists: stop the node and add --force/);
    expect(sha256(readFileSync(db))).toBe(before);
    expect((await restore(backupFile, dir, '--force')).code).toBe(0);
  });

  it("onto a running node's database, even with --force: refused, no marker written", async () => {
    expectOneLineError(await restore(backupFile, source.dataDir, '--force'), /open in another process/);
    expect(existsSync(join(source.dataDir, RESTORE_PENDING_FILE))).toBe(false);
    expect((await source.request('GET', '/readyz')).status).toBe(200);
  });

  it('while a node answers on the configured address: refused', async () => {
    const dir = freshDataDir('answering');
    const configFile = join(dir, CONFIG_FILE_NAME);
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { http: { port: number } };
    config.http.port = Number(new URL(source.url).port);
    writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
    expectOneLineError(await restore(backupFile, dir), /a jointban node \(alpha\) answers on http:\/\/127\.0\.0\.1:\d+: stop it/);
    expect(existsSync(join(dir, 'jointban.db'))).toBe(false);
  });

  it("into another member's data directory: refused", async () => {
    const dir = freshDataDir('other-member');
    const configFile = join(dir, CONFIG_FILE_NAME);
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { member: string };
    config.member = 'beta';
    writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
    expectOneLineError(await restore(backupFile, dir), /the backup is of member alpha .* this data directory is beta/);
  });
});

describe('jointban backup refuses', () => {
  it("to overwrite a backup without --force, or to write over the node's own database", async () => {
    expectOneLineError(await runCli(['backup', '--data-dir', source.dataDir, '--to', backupFile]), /already exists: choose another name or add --force/);
    expectOneLineError(await runCli(['backup', '--data-dir', source.dataDir, '--to', join(source.dataDir, 'jointban.db'), '--force']), /the node's own database/);
  });
});
