/**
 * Backup and restore of a federation member, whose database holds a roster and its peers' logs:
 * the restore verifies every log against the roster it holds (checked against the trust root in
 * the data directory's config), and the restored node rejoins and catches up what its peers
 * appended after the backup. Two faults only the restore's own checks can see, since every log
 * still verifies: a signing key the roster does not hold for the member, and a log the manifest
 * lists that the database no longer has.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { generateEd25519KeyPair } from '../../src/crypto/index.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import type { BackupManifest } from '../../src/store/backup.js';
import { LogReader } from '../../src/store/log-repository.js';
import { readKeyFile, writeKeyFile } from '../../src/store/key-file.js';
import { signManifest } from '../../src/store/backup-signature.js';
import { RESTORE_PENDING_FILE } from '../../src/store/restore.js';
import { runCli } from '../helpers/cli.js';
import { DashboardClient } from '../helpers/dashboard-client.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { json, listingBody, paymentAccount, type CheckBody, type CreatedListingBody, type ErrorBody, type Identifier } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/test-node.js';

let fed: TestFederation;
let alpha: FedNode;
let work: string;
let backupFile: string;
const ids = (label: string): Identifier[] => [paymentAccount(`alipay:fed-backup-${label}`)];

async function heldCheckpoint(node: FedNode, origin: string): Promise<number> {
  const row = await node.node.database.db
    .selectFrom('checkpoints')
    .select((eb) => eb.fn.max('size').as('size'))
    .where('origin', '=', origin)
    .executeTakeFirst();
  return Number(row?.size ?? 0);
}

function freshDataDir(label: string): string {
  const dir = join(work, label);
  mkdirSync(dir, { mode: 0o700 });
  cpSync(join(alpha.dataDir, CONFIG_FILE_NAME), join(dir, CONFIG_FILE_NAME));
  cpSync(join(alpha.dataDir, 'keys'), join(dir, 'keys'), { recursive: true });
  return dir;
}

const restore = (from: string, dir: string) => runCli(['restore', '--from', from, '--data-dir', dir]);

beforeAll(async () => {
  fed = await createFederation(2);
  alpha = fed.get('alpha');
  work = tempDir('jointban-backup-fed-');
  backupFile = join(work, 'alpha.db');
  for (const label of ['a1', 'a2', 'a3']) await fed.list('alpha', ids(label));
  for (const label of ['b1', 'b2']) await fed.list('beta', ids(label));
  await waitFor(async () => (await fed.logSize(alpha, 'beta')) === 2 && (await heldCheckpoint(alpha, 'beta')) === 2 && (await heldCheckpoint(alpha, 'alpha')) === 3, {
    message: "alpha to hold beta's log and checkpoints of both logs",
  });
  const backup = await runCli(['backup', '--data-dir', alpha.dataDir, '--to', backupFile]);
  if (backup.code !== 0) throw new Error(`backup exited ${String(backup.code)}: ${backup.stderr}`);
  // After the backup: a restored alpha must fetch these from beta by itself, its own two included.
  await fed.list('beta', ids('b3'));
  for (const label of ['a4', 'a5']) await fed.list('alpha', ids(label));
  await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 5 && (await fed.logSize(fed.association, 'alpha')) === 5, {
    message: "beta and the association to mirror alpha's entries made after the backup",
  });
  // Alpha's machine is lost; its config and keys survive in their own backup.
  await fed.stopNode(alpha);
}, 90_000);

afterAll(async () => {
  await fed?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a member node restored from a backup', () => {
  it('verifies every log against the roster it holds, rejoins, and catches up what peers appended since', async () => {
    const manifest = JSON.parse(readFileSync(`${backupFile}.json`, 'utf8')) as BackupManifest;
    expect(manifest.rosterVersion).toBe(1);
    // The association's log is empty, but it signed a checkpoint of it.
    expect(manifest.logs.map((l) => [l.origin, l.size])).toEqual([
      ['alpha', 3],
      ['association', 0],
      ['beta', 2],
    ]);
    const dir = freshDataDir('restored');
    const result = await restore(backupFile, dir);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/roster version 1, witness \S+/);
    expect(result.stdout).toMatch(/^alpha\s+OK\s+3 entries/m);
    expect(result.stdout).toMatch(/^beta\s+OK\s+2 entries/m);
    expect(result.stdout).toMatch(/^manifest signed by [0-9a-f]{16}…, a key roster version 1 lists for alpha/m);
    expect(result.stderr).toMatch(/own log up to 3 entries/);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(false);

    const node = await createNode(loadConfig(dir, {}), { logger: createLogger('silent') });
    try {
      const url = await node.listen();
      const check = async (identifiers: Identifier[]) =>
        json<CheckBody>(
          await fetch(`${url}/v1/check`, {
            method: 'POST',
            headers: { authorization: `Bearer ${alpha.adminKey}`, 'content-type': 'application/json' },
            body: JSON.stringify({ identifiers }),
          }),
        );
      for (const label of ['a1', 'a2', 'a3', 'b1', 'b2']) expect((await check(ids(label))).decision, label).toBe('deny');
      await waitFor(async () => (await check(ids('b3'))).decision === 'deny', { message: "the restored alpha to fetch beta's listing made after the backup" });

      // Its own entries made after the backup come back from the peers before it appends again.
      await waitFor(async () => (await node.federation.status()).ownLogRecovery === null, { message: 'the own log recovered from the peers' });
      expect(await new LogReader(node.database.db).size('alpha')).toBe(5);
      for (const label of ['a4', 'a5']) expect((await check(ids(label))).decision, label).toBe('deny');
      const listed = await fetch(`${url}/v1/listings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alpha.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(listingBody({ identifiers: ids('a6') })),
      });
      expect(listed.status).toBe(201);
      expect((await json<CreatedListingBody>(listed)).seq).toBe(6);
      // The peers take entry 6 as the continuation of the history they hold: no fork, no misbehaviour.
      await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 6, { message: "beta to take the restored alpha's new listing" });
      expect((await fed.status('beta')).misbehaviour).toEqual([]);
      expect((await fed.status(fed.association)).misbehaviour).toEqual([]);
    } finally {
      await node.stop();
    }
  });

  it('refuses a signing key that is not the one the roster holds for the member, and keeps the marker', async () => {
    const dir = freshDataDir('other-key');
    const keyFile = loadConfig(dir, {}).signingKeyFile;
    rmSync(keyFile);
    writeKeyFile(keyFile, generateEd25519KeyPair());
    const result = await restore(backupFile, dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^alpha\s+OK/m);
    expect(result.stdout).toContain('is not the key the roster holds for alpha');
    expect(result.stderr).toMatch(/^jointban: restore did not verify \(1 problems with the manifest or keys\)/);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(true);
  });

  it('refuses a backup whose database lost a log its manifest lists, although what is left verifies', async () => {
    const file = join(work, 'without-beta.db');
    cpSync(backupFile, file);
    const db = new SQLite(file);
    try {
      db.exec(`DELETE FROM listing_tokens WHERE listing_id IN (SELECT id FROM listings WHERE origin = 'beta');
               DELETE FROM listings WHERE origin = 'beta';
               DELETE FROM log_entries WHERE origin = 'beta';
               DELETE FROM tree_nodes WHERE origin = 'beta';
               DELETE FROM checkpoints WHERE origin = 'beta';`);
    } finally {
      db.close();
    }
    const manifest = JSON.parse(readFileSync(`${backupFile}.json`, 'utf8')) as BackupManifest;
    const bytes = readFileSync(file);
    manifest.database = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    writeFileSync(`${file}.json`, JSON.stringify(manifest));
    const dir = freshDataDir('without-beta');
    // Rehashed only: the signature, checked against alpha's key in the roster the backup holds, fails.
    const unsigned = await restore(file, dir);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toMatch(/the signature does not verify with a key roster version 1 lists for alpha/);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(false);

    // Re-signed with alpha's own key (an insider): the restore's own checks still catch it.
    writeFileSync(`${file}.json`, JSON.stringify(signManifest(manifest, readKeyFile(loadConfig(alpha.dataDir, {}).signingKeyFile))));
    const result = await restore(file, dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^alpha\s+OK/m);
    expect(result.stdout).not.toMatch(/^beta\s/m);
    expect(result.stdout).toContain("the manifest lists beta's log with 2 entries; the database holds none");
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(true);
  });
  it('refuses its own listings while a peer has not answered, until an operator abandons the wait', { timeout: 60_000 }, async () => {
    const dir = freshDataDir('peer-down');
    expect((await restore(backupFile, dir)).code).toBe(0);
    await fed.stopNode(fed.association);
    const node = await createNode(loadConfig(dir, {}), { logger: createLogger('silent') });
    try {
      const url = await node.listen();
      const list = (label: string) =>
        fetch(`${url}/v1/listings`, {
          method: 'POST',
          headers: { authorization: `Bearer ${alpha.adminKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(listingBody({ identifiers: ids(label) })),
        });
      // beta answers with its copy (6 entries: the first restored node listed a6); the association cannot.
      const waiting = await waitFor(
        async () => {
          const s = (await node.federation.status()).ownLogRecovery;
          return s?.answered.includes('beta') ? s : undefined;
        },
        { message: 'beta to answer the recovery' },
      );
      expect(waiting).toMatchObject({ reason: 'restore', size: 6, answered: ['beta'], waitingFor: ['association'] });
      const refused = await list('a7');
      expect(refused.status).toBe(503);
      expect((await json<ErrorBody>(refused)).error.code).toBe('unavailable');
      expect(await new LogReader(node.database.db).size('alpha')).toBe(6);
      // The dashboard's health page says so, and whom it waits for.
      const dashboard = new DashboardClient((input, init) => node.app.request(input, init));
      expect((await dashboard.login(alpha.adminKey)).status).toBe(303);
      const health = await (await dashboard.get('/dashboard')).text();
      expect(health).toMatch(/class="notice own-log-recovery"[^>]*>[^<]*Restored from a backup/);
      expect(health).toMatch(/waiting for <span class="mono">association<\/span>/);

      const status = await runCli(['own-log', '--data-dir', dir]);
      expect(status.code, status.stderr).toBe(0);
      // It names whom it waits for and what size the peers that answered hold.
      expect(JSON.parse(status.stdout)).toMatchObject({
        member: 'alpha',
        size: 6,
        recovering: true,
        reason: 'restore',
        waitingFor: ['association'],
        answered: ['beta'],
        peerSizes: { beta: 6 },
        reachesAtLeast: 6,
        waiting: 'waiting for association to answer; the own log reaches at least 6 entries (it holds 6)',
      });
      const abandoned = await runCli(['own-log', '--data-dir', dir, '--abandon-recovery']);
      expect(abandoned.code, abandoned.stderr).toBe(0);
      expect(JSON.parse(abandoned.stdout)).toMatchObject({ recovering: false, abandoned: true });
      // The running node re-reads the mark each round.
      await waitFor(async () => (await node.federation.status()).ownLogRecovery === null, { message: 'the node to notice the abandoned recovery' });
      const accepted = await list('a7');
      expect(accepted.status).toBe(201);
      expect((await json<CreatedListingBody>(accepted)).seq).toBe(7);
    } finally {
      await node.stop();
    }
  });
});
