/**
 * The operator's walk of docs/OPERATIONS.md, "Restore" and "Restore from backup", step by step, as
 * written, on SQLite (the node's file is what `jointban backup` copies; the PostgreSQL procedure is
 * operations-restore-walk-postgres.test.ts). The member runs as recommended, its epoch secret in
 * the environment (test/helpers/operations-walk.ts), and every command the walk runs by hand
 * (backup, restore, own-log) runs without it. Before the backup the member has rotated its key
 * (the steps of "Node signing keys", walked with their checks in operations-walks.test.ts), so a
 * `keys/` backup from before the rotation is there to be refused.
 */
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { toHex } from '../../src/crypto/encoding.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import type { BackupManifest } from '../../src/store/backup.js';
import { readKeyFile } from '../../src/store/key-file.js';
import { RESTORE_PENDING_FILE } from '../../src/store/restore.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { waitFor, type TestFederation } from '../helpers/federation.js';
import { json, listingBody, type CheckBody, type CreatedListingBody } from '../helpers/fixtures.js';
import { allCosigned, listOnAlpha, rosterRetireKey, rosterRotateKey, startWalkFederation, walkIds as ids } from '../helpers/operations-walk.js';

let fed: TestFederation;
let env: Record<string, string>;
let alphaDir: string;
let preRotationKeys: string;

/** keys rotate, roster rotate-key, keys finish, roster retire-key: alpha's log holds 3 entries after. */
async function rotateAlphaKey(): Promise<void> {
  const rotated = await runCliJson<{ publicKey: string; previousPublicKey: string }>(['keys', 'rotate', '--data-dir', alphaDir]);
  await rosterRotateKey(fed, rotated.publicKey);
  await listOnAlpha(fed, '2');
  await runCliJson(['keys', 'finish', '--data-dir', alphaDir]);
  await rosterRetireKey(fed, rotated.previousPublicKey);
  await listOnAlpha(fed, '3');
}

beforeAll(async () => {
  ({ fed, env, alphaDir } = await startWalkFederation({ engine: 'sqlite' }));
  // keys/ as the operator backed it up before the rotation.
  preRotationKeys = join(fed.dir, 'keys-before-rotation');
  cpSync(join(alphaDir, 'keys'), preRotationKeys, { recursive: true });
  await rotateAlphaKey();
}, 90_000);

afterAll(async () => {
  await fed?.stop();
});

describe('docs/OPERATIONS.md, "Restore" and "Restore from backup", walked', () => {
  it('backs up, loses the machine, restores with the signed manifest and cosignatures checked, and recovers the own log', { timeout: 90_000 }, async () => {
    // Backups: taken while the node runs, once every checkpoint it holds is cosigned.
    await waitFor(() => allCosigned(fed), { message: 'every checkpoint alpha holds to carry the witness cosignature' });
    const backupFile = join(fed.dir, 'alpha-backup.db');
    const backup = await runCli(['backup', '--data-dir', alphaDir, '--to', backupFile]);
    expect(backup.code, backup.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(`${backupFile}.json`, 'utf8')) as BackupManifest;
    expect(manifest).toMatchObject({ version: 2, member: 'alpha', logs: expect.arrayContaining([{ origin: 'alpha', size: 3, checkpoint: 3 }]) });
    // Signed with the key the rotation made the key file.
    expect(manifest.signature?.publicKey).toBe(toHex(readKeyFile(join(alphaDir, 'keys', 'node.key')).publicKey));

    // After the backup: one more listing, which only the peers will hold.
    await fed.list('alpha', ids('4'));
    await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 4 && (await fed.logSize(fed.association, 'alpha')) === 4, { message: 'the peers to mirror entry 4' });
    const adminKey = fed.get('alpha').adminKey;
    await fed.stopNode('alpha');

    // 2. jointban.json and keys/ come back from their own backup, into a fresh data directory.
    const dir = join(fed.dir, 'alpha-new');
    mkdirSync(dir, { mode: 0o700 });
    cpSync(join(alphaDir, CONFIG_FILE_NAME), join(dir, CONFIG_FILE_NAME));
    // A keys/ backup from before the rotation holds only the key the roster retired: refused.
    cpSync(preRotationKeys, join(dir, 'keys'), { recursive: true });
    const stale = await runCli(['restore', '--from', backupFile, '--data-dir', dir, '--require-cosignatures']);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/holds a key the roster retired at/);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(true);
    cpSync(join(alphaDir, 'keys'), join(dir, 'keys'), { recursive: true, force: true });

    // 3. Restore (again: an unfinished restore is replaced without --force).
    const restored = await runCli(['restore', '--from', backupFile, '--data-dir', dir, '--require-cosignatures']);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/^manifest signed by [0-9a-f]{16}…, a key roster version 3 lists for alpha/m);
    expect(restored.stdout).toMatch(/^alpha\s+OK\s+3 entries, (\d+) checkpoints \(\1 cosigned\)/m);
    expect(restored.stdout).toContain('the node may start');
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(false);

    // Before it starts, own-log says whom the node will wait for.
    const waiting = await runCliJson<Record<string, unknown>>(['own-log', '--data-dir', dir]);
    expect(waiting).toMatchObject({ member: 'alpha', size: 3, recovering: true, reason: 'restore', waitingFor: ['association', 'beta'], answered: [], reachesAtLeast: 3 });

    // 5. Start: the node fetches entry 4 back from its peers before it appends.
    const node = await createNode(loadConfig(dir, env), { logger: createLogger('silent') });
    try {
      const url = await node.listen();
      await waitFor(async () => (await node.federation.status()).ownLogRecovery === null, { message: 'the restored node to recover its own log' });
      const done = await runCliJson<Record<string, unknown>>(['own-log', '--data-dir', dir]);
      expect(done).toMatchObject({ recovering: false, size: 4 });
      const listed = await fetch(`${url}/v1/listings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(listingBody({ identifiers: ids('5') })),
      });
      expect(listed.status).toBe(201);
      expect((await json<CreatedListingBody>(listed)).seq).toBe(5);
      const check = await fetch(`${url}/v1/check`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ identifiers: ids('4') }),
      });
      expect((await json<CheckBody>(check)).decision).toBe('deny');
      await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 5, { message: "beta to take the restored alpha's entry 5" });
      expect((await fed.status('beta')).misbehaviour).toEqual([]);
    } finally {
      await node.stop();
    }
  });
});
